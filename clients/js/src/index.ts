export { LiveSession } from "./client.js";
export type {
  ConnectionState,
  LiveSessionEvents,
  LiveSessionOptions,
  ResetEvent,
  StateChange,
  StreamPosition,
  WebSocketConstructor,
  WebSocketLike,
} from "./client.js";
export { ChannelTrack, isChannelEvent } from "./channels.js";
export type { ChannelEvent, PublishAnswer, PublishEvent } from "./channels.js";
export { HttpApi } from "./http.js";
export { Artifacts } from "./artifacts.js";
export type {
  ArtifactStatus,
  ArtifactsPage,
  CreateArtifactBody,
  CreatedArtifact,
  DownloadLink,
  UpdateArtifactBody,
  UploadForm,
} from "./artifacts.js";
export type { CreateSessionBody, EventsPage, FetchLike, HttpApiOptions, TokenSource } from "./http.js";
export {
  ActionError,
  ClosedError,
  DisconnectedError,
  FATAL_REFUSALS,
  FrameTooLargeError,
  HttpError,
  LiveSessionError,
  MAX_FRAME_BYTES,
  OutcomeUnknownError,
  RefusedError,
  TimeoutError,
  ValidationError,
} from "./errors.js";
export { backoffDelay } from "./backoff.js";
export type { BackoffOptions } from "./backoff.js";
export { StreamOrderer } from "./stream.js";
export type { PushResult, Sequenced } from "./stream.js";
export * from "./protocol.js";
export {
  checkName,
  checkPresenceData,
  checkReaction,
  NAME_MAX_CHARS,
  PRESENCE_DATA_MAX_BYTES,
  REACTION_EMOJI_MAX_CHARS,
  REACTION_MAX_CHARS,
  REACTION_WORD_PATTERN,
} from "./presence.js";
export type {
  KickedEvent,
  KickOptions,
  PresenceChangedEvent,
  PresenceEvent,
  PresenceFrame,
  PresenceMember,
  PresenceQuery,
  PresenceSetEvent,
  ReactedEvent,
  ReactionsEvent,
} from "./presence.js";
