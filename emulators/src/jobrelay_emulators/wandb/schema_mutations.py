"""The write side of the emulator's GraphQL schema: mutation inputs, payloads and ``Mutation``.

Names come from the operation documents the wandb 0.31 SDK and its ``wandb-core`` sidecar send
(``reference/wandb.md`` §3-§8 and the documents recorded in
``tests/platforms/wandb/SDK_OPERATIONS.md``).
"""

from __future__ import annotations

__all__ = ["MUTATION_SDL"]

MUTATION_SDL = """
input PushToRunQueueByNameInput {
  entityName: String!
  projectName: String!
  queueName: String!
  runSpec: JSONString!
  priority: Int
  templateVariableValues: JSONString
  clientMutationId: String
}
type PushToRunQueueByNamePayload {
  runQueueItemId: ID!
  runSpec: JSONString
  clientMutationId: String
}

input PushToRunQueueInput {
  queueID: ID!
  runSpec: JSONString!
  priority: Int
  templateVariableValues: JSONString
  clientMutationId: String
}
type PushToRunQueuePayload { runQueueItemId: ID! clientMutationId: String }

input PopFromRunQueueInput {
  entityName: String!
  projectName: String!
  queueName: String!
  launchAgentId: ID
  clientMutationId: String
}
type PopFromRunQueuePayload { runQueueItemId: ID! runSpec: JSONString! clientMutationId: String }

input AckRunQueueItemInput { runQueueItemId: ID! runName: String! clientMutationId: String }
input FailRunQueueItemInput {
  runQueueItemId: ID!
  message: String!
  stage: String!
  filePaths: [String!]
  clientMutationId: String
}
input DeleteFromRunQueueInput { queueID: ID! runQueueItemId: ID! clientMutationId: String }
input DeleteRunQueuesInput { queueIDs: [ID!] clientMutationId: String }
type SuccessPayload { success: Boolean! clientMutationId: String }

input UpsertModelInput {
  name: String
  entityName: String
  description: String
  id: String
  access: String
  clientMutationId: String
}
type UpsertModelPayload {
  project: Project
  model: Project
  inserted: Boolean
  clientMutationId: String
}

input CreateDefaultResourceConfigInput {
  entityName: String!
  resource: String!
  config: JSONString!
  templateVariables: JSONString
  clientMutationId: String
}
type CreateDefaultResourceConfigPayload {
  defaultResourceConfigID: ID
  success: Boolean!
  clientMutationId: String
}

input CreateRunQueueInput {
  entityName: String!
  projectName: String!
  queueName: String!
  access: RunQueueAccessType!
  prioritizationMode: RunQueuePrioritizationMode
  defaultResourceConfigID: ID
  clientMutationId: String
}
type CreateRunQueuePayload { success: Boolean! queueID: ID clientMutationId: String }

input UpsertRunQueueInput {
  entityName: String!
  projectName: String!
  queueName: String!
  resourceType: String!
  resourceConfig: JSONString!
  templateVariables: JSONString
  prioritizationMode: RunQueuePrioritizationMode
  externalLinks: JSONString
  clientMutationId: String
}
type UpsertRunQueuePayload {
  success: Boolean!
  configSchemaValidationErrors: [String!]
  clientMutationId: String
}

input StopRunInput { id: ID! clientMutationId: String }
input UpdateRunStateInput { id: ID! state: String! clientMutationId: String }

input UpsertBucketInput {
  id: String
  name: String
  groupName: String
  modelName: String
  entityName: String
  description: String
  displayName: String
  notes: String
  config: JSONString
  commit: String
  host: String
  debug: Boolean
  jobProgram: String
  jobRepo: String
  jobType: String
  state: String
  sweep: String
  tags: [String!]
  summaryMetrics: JSONString
  clientMutationId: String
}
type UpsertBucketPayload { bucket: Run inserted: Boolean clientMutationId: String }

input ArtifactAliasInput { alias: String! artifactCollectionName: String! }
input ArtifactCollectionAliasInput {
  alias: String!
  artifactCollectionName: String!
  entityName: String!
  projectName: String!
}
input TagInput { tagName: String! tagCategoryName: String attributes: String }

input CreateArtifactInput {
  entityName: String!
  projectName: String!
  artifactTypeName: String!
  artifactCollectionName: String
  artifactCollectionNames: [String!]
  runName: String
  digest: String!
  digestAlgorithm: ArtifactDigestAlgorithm
  aliases: [ArtifactAliasInput!]
  tags: [TagInput!]
  metadata: JSONString
  description: String
  labels: JSONString
  ttlDurationSeconds: Int64
  historyStep: Int64
  distributedID: String
  enableDigestDeduplication: Boolean
  clientID: ID
  sequenceClientID: ID
  storageRegion: String
  clientMutationId: String
}
type CreateArtifactPayload { artifact: Artifact! clientMutationId: String }

input CreateArtifactManifestInput {
  artifactID: ID!
  baseArtifactID: ID
  name: String!
  digest: String!
  entityName: String!
  projectName: String!
  runName: String!
  type: ArtifactManifestType
  includeUpload: Boolean
  clientMutationId: String
}
input UpdateArtifactManifestInput {
  artifactManifestID: ID!
  digest: String
  baseArtifactID: ID
  clientMutationId: String
}
type ArtifactManifestPayload { artifactManifest: ArtifactManifest! clientMutationId: String }

input UploadPartsInput { partNumber: Int! hexMD5: String! }
input CreateArtifactFileSpecInput {
  artifactID: ID!
  artifactManifestID: ID
  name: String!
  md5: String!
  mimetype: String
  uploadPartsInput: [UploadPartsInput!]
}
input CreateArtifactFilesInput {
  artifactFiles: [CreateArtifactFileSpecInput!]!
  storageLayout: ArtifactStorageLayout!
  cloudRegionID: ID
  clientMutationId: String
}
type CreateArtifactFilesPayload { files: FileConnection! clientMutationId: String }

input CommitArtifactInput { artifactID: ID! clientMutationId: String }
type ArtifactPayload { artifact: Artifact! clientMutationId: String }

input UseArtifactInput {
  entityName: String!
  projectName: String!
  runName: String!
  artifactID: ID!
  usedAs: String
  artifactEntityName: String
  artifactProjectName: String
  clientMutationId: String
}

input AddAliasesInput {
  artifactID: ID!
  aliases: [ArtifactCollectionAliasInput!]!
  clientMutationId: String
}

input CreateRunFilesInput {
  entityName: String!
  projectName: String!
  runName: String!
  files: [String!]!
  clientMutationId: String
}
type RunFileUpload { name: String! uploadUrl: String }
type CreateRunFilesPayload {
  runID: ID!
  uploadHeaders: [String!]!
  files: [RunFileUpload!]!
  clientMutationId: String
}

type Mutation {
  createRunFiles(input: CreateRunFilesInput!): CreateRunFilesPayload
  pushToRunQueueByName(input: PushToRunQueueByNameInput!): PushToRunQueueByNamePayload
  pushToRunQueue(input: PushToRunQueueInput!): PushToRunQueuePayload
  popFromRunQueue(input: PopFromRunQueueInput!): PopFromRunQueuePayload
  ackRunQueueItem(input: AckRunQueueItemInput!): SuccessPayload
  failRunQueueItem(input: FailRunQueueItemInput!): SuccessPayload
  deleteFromRunQueue(input: DeleteFromRunQueueInput!): SuccessPayload
  deleteRunQueues(input: DeleteRunQueuesInput!): SuccessPayload
  upsertModel(input: UpsertModelInput!): UpsertModelPayload
  createDefaultResourceConfig(
    input: CreateDefaultResourceConfigInput!
  ): CreateDefaultResourceConfigPayload
  createRunQueue(input: CreateRunQueueInput!): CreateRunQueuePayload
  upsertRunQueue(input: UpsertRunQueueInput!): UpsertRunQueuePayload
  stopRun(input: StopRunInput!): SuccessPayload
  updateRunState(input: UpdateRunStateInput!): SuccessPayload
  upsertBucket(input: UpsertBucketInput!): UpsertBucketPayload
  createArtifact(input: CreateArtifactInput!): CreateArtifactPayload
  createArtifactManifest(input: CreateArtifactManifestInput!): ArtifactManifestPayload
  updateArtifactManifest(input: UpdateArtifactManifestInput!): ArtifactManifestPayload
  createArtifactFiles(input: CreateArtifactFilesInput!): CreateArtifactFilesPayload
  commitArtifact(input: CommitArtifactInput!): ArtifactPayload
  useArtifact(input: UseArtifactInput!): ArtifactPayload
  addAliases(input: AddAliasesInput!): SuccessPayload
  deleteAliases(input: AddAliasesInput!): SuccessPayload
}
"""
