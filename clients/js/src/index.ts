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
} from "./errors.js";
export { backoffDelay } from "./backoff.js";
export type { BackoffOptions } from "./backoff.js";
export { StreamOrderer } from "./stream.js";
export type { PushResult, Sequenced } from "./stream.js";
export * from "./protocol.js";
