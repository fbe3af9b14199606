"""The GraphQL schema the W&B emulator serves.

W&B does not publish its schema SDL. Every type, field, argument and enum name below comes from
the operation documents of ``reference/wandb.md`` (taken from the wandb 0.31.0 wheel and the
``wandb-core`` sidecar's documents), so the official SDK's documents validate against it. Only
the parts that those documents and jobrelay use are modelled; a document that selects anything
else fails with the server's own ``Cannot query field "X" on type "Y"`` message, as an older
W&B server does; the emulator appends the operation's name to that message.

Fields the SDK sends or selects that the emulator does not model are accepted on purpose and
listed in :data:`UNMODELLED_FIELDS` with what the emulator does with them instead.

Assumption (not in the reference): ``RunQueueItem.runSpec`` and ``RunQueueItem.error`` —
the spec the agent pops (the push and pop payloads name it ``runSpec``) and the message given
to ``failRunQueueItem(input: {message, stage, filePaths})``. ``Run.exitcode``, ``stopped`` and
``shouldStop`` are selected by the 0.31 wheel's sweeps documents.
"""

from __future__ import annotations

from jobrelay_emulators.wandb.schema_mutations import MUTATION_SDL

__all__ = ["SDL", "UNMODELLED_FIELDS"]

# ``Type.field`` -> what the emulator does with it (accepted, never an error).
UNMODELLED_FIELDS: dict[str, str] = {
    "CreateArtifactFilesInput.cloudRegionID": "ignored: one storage region",
    "CreateArtifactInput.storageRegion": "ignored: one storage region",
    "CreateArtifactInput.digestAlgorithm": "ignored: digests are MANIFEST_MD5",
    "CreateArtifactInput.clientID": "ignored: clientIDMapping answers null",
    "CreateArtifactInput.sequenceClientID": "ignored",
    "CreateArtifactInput.historyStep": "ignored",
    "CreateArtifactInput.ttlDurationSeconds": "ignored: versions never expire",
    "CreateArtifactInput.tags": "ignored: versions carry no tags",
    "CreateArtifactInput.labels": "ignored",
    "CreateArtifactInput.distributedID": "ignored; PATCH manifests are refused",
    "UpsertBucketInput.groupName": "ignored: Run.group is null",
    "UpsertBucketInput.description": "ignored: Run.description is null",
    "UpsertBucketInput.commit": "ignored: Run.commit is null",
    "UpsertBucketInput.host": "ignored",
    "UpsertBucketInput.debug": "ignored",
    "UpsertBucketInput.jobProgram": "ignored",
    "UpsertBucketInput.jobRepo": "ignored",
    "UpsertBucketInput.sweep": "ignored: Run.sweepName is null",
    "Entity.organization": "null: a personal entity",
    "Project.readOnly": "false",
    "Project.description": "null",
    "Project.access": "PROJECT",
    "Project.views": "{}",
    "Project.createdAt": "null",
    "Project.isBenchmark": "false",
    "Run.systemMetrics": "{}: system metrics go to Run.events",
    "Run.parquetHistory": "parquetUrls []: every history row is live data",
    "CreateRunFilesPayload.uploadHeaders": "[]",
    "ServerInfo.features": "[]: no optional server features",
}

# An artifact collection's fields: the interface lists them and GraphQL has the type that
# implements it list them again.
_COLLECTION_FIELDS = """
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
"""

_QUERY_SDL = (
    """
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
  organization: Organization
}

type Organization { id: ID! name: String! coreWeaveOrganizationId: String }

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
  artifact(name: String!): Artifact
  runCount(filters: JSONString): Int!
  runs(
    filters: JSONString, after: String, first: Int, order: String
  ): RunConnection!
  readOnly: Boolean
  description: String
  access: String
  views: JSONString
  createdAt: DateTime
  isBenchmark: Boolean
}
type RunEdge { node: Run! cursor: String! }
type RunConnection { totalCount: Int! edges: [RunEdge!]! pageInfo: PageInfo! }
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

type ParquetHistory { parquetUrls: [String!]! liveData: [JSON!]! }

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
  eventsLineCount: Int
  historyTail: String
  eventsTail: String
  wandbConfig(keys: [String!]): JSONString
  history(samples: Int, minStep: Int64, maxStep: Int64): [String!]!
  events(samples: Int): [String!]!
  sampledHistory(specs: [JSONString!]!): [JSON!]!
  parquetHistory(liveKeys: [String!]!): ParquetHistory!
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

interface ArtifactCollection {"""
    + _COLLECTION_FIELDS
    + """}

type ArtifactSequence implements ArtifactCollection {"""
    + _COLLECTION_FIELDS
    + """  latestArtifact: Artifact
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
  createdBy: Initiator
  usedBy(after: String, first: Int): RunConnection!
}

union Initiator = Run | User
type ArtifactEdge { node: Artifact cursor: String! }
type VersionedArtifactEdge { node: Artifact cursor: String! version: String! }
type VersionedArtifactConnection {
  totalCount: Int!
  pageInfo: PageInfo!
  edges: [VersionedArtifactEdge!]!
}
type ArtifactConnection { totalCount: Int! pageInfo: PageInfo! edges: [ArtifactEdge!]! }
"""
)

SDL = _QUERY_SDL + MUTATION_SDL
