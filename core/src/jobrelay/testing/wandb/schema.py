"""The GraphQL schema the W&B emulator serves.

W&B does not publish its schema SDL. Every type, field, argument and enum name below comes from
the operation documents of ``reference/wandb.md`` (taken from the wandb 0.31.0 wheel and the
``wandb-core`` sidecar's documents), so the official SDK's documents validate against it. Only
the parts that those documents and jobrelay use are modelled; a document that selects anything
else fails with the server's own ``Cannot query field "X" on type "Y"`` message, as an older
W&B server does.

Assumption (not in the reference): ``RunQueueItem.runSpec`` and ``RunQueueItem.error`` —
the spec the agent pops (the push and pop payloads name it ``runSpec``) and the message given
to ``failRunQueueItem(input: {message, stage, filePaths})``. ``Run.exitcode``, ``stopped`` and
``shouldStop`` are selected by the 0.31 wheel's sweeps documents.
"""

from __future__ import annotations

__all__ = ["SDL"]

SDL = """
scalar JSONString
scalar JSON
scalar DateTime
scalar Int64
scalar Duration

enum RunQueueItemState { PENDING LEASED CLAIMED FAILED }
enum RunQueueAccessType { PROJECT USER }
enum RunQueuePrioritizationMode { DISABLED V0 }
enum ArtifactState { PENDING COMMITTED DELETED }
enum ArtifactCollectionState { READY DELETED }
enum ArtifactDigestAlgorithm { MANIFEST_MD5 MANIFEST_XXH128 }
enum ArtifactManifestType { FULL INCREMENTAL PATCH }
enum ArtifactStorageLayout { V1 V2 }
enum CompleteMultipartAction { Complete }

type Query {
  viewer: User
  project(name: String, entityName: String): Project
  model(name: String, entityName: String): Project
  entity(name: String!): Entity
  artifact(id: ID!): Artifact
  serverInfo: ServerInfo
  clientIDMapping(clientID: ID!): ClientIDMappingResult
}

type ServerInfo { features: [ServerFeature!]! }
type ServerFeature { name: String! isEnabled: Boolean! }
type ClientIDMappingResult { serverID: ID! }

type User {
  id: ID!
  name: String
  username: String
  email: String
  admin: Boolean
  flags: JSONString
  entity: String
  deletedAt: DateTime
  apiKeys: ApiKeyConnection
  teams: EntityConnection
}
type ApiKey { id: ID! name: String! description: String }
type ApiKeyEdge { node: ApiKey }
type ApiKeyConnection { edges: [ApiKeyEdge!]! }
type EntityEdge { node: Entity }
type EntityConnection { edges: [EntityEdge!]! }

type Entity {
  id: ID!
  name: String!
  defaultResourceConfig(id: ID!): DefaultResourceConfig
  xxhashDigestsEnabled: Boolean
}

type DefaultResourceConfig {
  id: ID!
  config: JSONString
  resource: String!
  templateVariables: [TemplateVariable!]!
}
type TemplateVariable { name: String! schema: JSONString }

type PageInfo {
  endCursor: String
  hasNextPage: Boolean!
  startCursor: String
  hasPreviousPage: Boolean
}

type Project {
  id: ID!
  internalId: ID!
  name: String!
  entityName: String!
  entity: Entity!
  run(name: String!): Run
  bucket(name: String!, missingOk: Boolean): Run
  runQueue(name: String!): RunQueue
  runQueues: [RunQueue!]!
  artifactCollectionMembership(name: String!): ArtifactCollectionMembership
  artifactCollection(name: String!): ArtifactCollection
  artifactCollections(
    after: String, first: Int, filters: JSONString, order: String
  ): ArtifactCollectionConnection!
  artifactType(name: String!): ArtifactType
}
type ArtifactCollectionEdge { node: ArtifactCollection cursor: String! }
type ArtifactCollectionConnection {
  totalCount: Int!
  pageInfo: PageInfo!
  edges: [ArtifactCollectionEdge!]!
}

type ArtifactType {
  id: ID!
  name: String!
  description: String
  artifactCollection(name: String!): ArtifactCollection
}

type RunQueue {
  id: ID!
  name: String!
  access: RunQueueAccessType!
  createdBy: String
  entityName: String
  projectName: String
  defaultResourceConfigID: ID
  prioritizationMode: RunQueuePrioritizationMode
  externalLinks: JSONString
  runQueueItem(id: ID!): RunQueueItem
  runQueueItems(first: Int, after: String): RunQueueItemConnection!
}

type RunQueueItemError { message: String stage: String filePaths: [String!] }

type RunQueueItem {
  id: ID!
  state: RunQueueItemState!
  associatedRunId: String
  runSpec: JSONString!
  priority: Int
  templateVariableValues: JSONString
  createdAt: DateTime!
  updatedAt: DateTime
  error: RunQueueItemError
}
type RunQueueItemEdge { node: RunQueueItem! cursor: String! }
type RunQueueItemConnection { edges: [RunQueueItemEdge!]! pageInfo: PageInfo! }

type RunUser { name: String username: String }

type Run {
  id: ID!
  name: String!
  projectId: ID!
  project: Project
  tags: [String!]!
  displayName: String
  sweepName: String
  state: String!
  config: JSONString
  group: String
  jobType: String
  commit: String
  readOnly: Boolean
  createdAt: DateTime!
  heartbeatAt: DateTime
  description: String
  notes: String
  systemMetrics: JSONString
  summaryMetrics: JSONString
  historyLineCount: Int
  logLineCount: Int
  user: RunUser
  historyKeys: JSON
  exitcode: Int
  stopped: Boolean
  shouldStop: Boolean
  fileCount: Int!
  files(names: [String], after: String, first: Int, pattern: String): FileConnection!
  outputArtifacts(after: String, first: Int): ArtifactConnection!
  inputArtifacts(after: String, first: Int): ArtifactConnection!
}

type UploadUrlPart { partNumber: Int! uploadUrl: String! }
type UploadMultipartUrls { uploadID: String! uploadUrlParts: [UploadUrlPart!]! }

type File {
  id: ID!
  name: String!
  displayName: String!
  url(upload: Boolean): String
  directUrl: String!
  uploadUrl: String
  uploadHeaders: [String!]!
  uploadMultipartUrls: UploadMultipartUrls
  storagePath: String
  sizeBytes: Int64!
  mimetype: String
  updatedAt: DateTime
  md5: String
  digest: String
  artifact: Artifact
}
type FileEdge { node: File cursor: String! }
type FileConnection { totalCount: Int! pageInfo: PageInfo! edges: [FileEdge!]! }

type Tag { id: ID! name: String! }

type ArtifactAlias {
  id: ID!
  alias: String!
  artifactCollection: ArtifactCollection
}

interface ArtifactCollection {
  id: ID!
  name: String!
  description: String
  createdAt: DateTime!
  updatedAt: DateTime
  project: Project
  state: ArtifactCollectionState!
  artifactMembership(aliasName: String!): ArtifactCollectionMembership
  defaultArtifactType: ArtifactTypeRef!
  artifacts(
    after: String, first: Int, order: String, filters: JSONString
  ): VersionedArtifactConnection!
}

type ArtifactSequence implements ArtifactCollection {
  id: ID!
  name: String!
  description: String
  createdAt: DateTime!
  updatedAt: DateTime
  project: Project
  state: ArtifactCollectionState!
  artifactMembership(aliasName: String!): ArtifactCollectionMembership
  defaultArtifactType: ArtifactTypeRef!
  artifacts(
    after: String, first: Int, order: String, filters: JSONString
  ): VersionedArtifactConnection!
  latestArtifact: Artifact
  digestAlgorithm: ArtifactDigestAlgorithm
}

type ArtifactCollectionMembership {
  id: ID!
  versionIndex: Int
  createdAt: DateTime!
  aliases: [ArtifactAlias!]!
  artifactCollection: ArtifactCollection
  artifact: Artifact
  files(names: [String!], after: String, first: Int): FileConnection!
}

type ArtifactManifest { id: ID! file: File! }

type ArtifactTypeRef { name: String! }

type Artifact {
  id: ID!
  artifactSequence: ArtifactSequence!
  versionIndex: Int
  artifactType: ArtifactTypeRef!
  description: String
  metadata: JSONString
  ttlDurationSeconds: Int64!
  ttlIsInherited: Boolean!
  tags: [Tag!]!
  historyStep: Int64
  state: ArtifactState!
  size: Int64!
  digest: String!
  digestAlgorithm: ArtifactDigestAlgorithm
  commitHash: String
  fileCount: Int64!
  createdAt: DateTime!
  updatedAt: DateTime
  aliases: [ArtifactAlias!]!
  currentManifest: ArtifactManifest
  files(names: [String!], after: String, first: Int): FileConnection!
}
type ArtifactEdge { node: Artifact cursor: String! }
type VersionedArtifactEdge { node: Artifact cursor: String! version: String! }
type VersionedArtifactConnection {
  totalCount: Int!
  pageInfo: PageInfo!
  edges: [VersionedArtifactEdge!]!
}
type ArtifactConnection { totalCount: Int! pageInfo: PageInfo! edges: [ArtifactEdge!]! }

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

type Mutation {
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
