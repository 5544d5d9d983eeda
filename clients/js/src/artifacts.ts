/**
 * Artifacts over the HTTP API: register an upload and send the file with its presigned S3 POST form, list a
 * session's artifacts with their state (`pending`, `processing`, `completed`, `failed`, as storage confirmed
 * them), add results, share, keep, delete (a large tree or session a batch at a time, repeated here until
 * done), and download a shared one (a listener needs no token). The twin of the Python client's `artifacts.py`.
 */

import { HttpError } from "./errors.js";
import type { FetchLike, HttpApi } from "./http.js";
import type { ArtifactView } from "./protocol.js";

export type ArtifactStatus = ArtifactView["status"];

export interface UploadForm {
  method: "POST";
  url: string;
  /** Form fields to send, in this order, before the file part. */
  fields: Record<string, string>;
  headers: Record<string, string>;
  expiresAt: number;
  maxBytes: number;
}

export interface CreatedArtifact {
  artifact: ArtifactView & { fileName: string; contentType: string };
  upload: UploadForm;
}

export interface ArtifactsPage {
  items: ArtifactView[];
  nextCursor: string | null;
}

export interface CreateArtifactBody {
  kind: string;
  contentType: string;
  fileName: string;
  sizeBytes?: number;
}

export interface UpdateArtifactBody {
  status?: ArtifactStatus;
  shared?: boolean;
  keep?: boolean;
  error?: string;
  processor?: string;
  processingMs?: number;
}

export interface DownloadLink {
  url: string;
  expiresAt: number;
}

const session = (sessionId: string): string => `/sessions/${encodeURIComponent(sessionId)}`;
const artifact = (sessionId: string, artifactId: string): string =>
  `${session(sessionId)}/artifacts/${encodeURIComponent(artifactId)}`;

function pageQuery(fields: Record<string, string | number | undefined>): string {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(fields)) if (value !== undefined) query.set(name, String(value));
  const text = query.toString();
  return text ? `?${text}` : "";
}

/** A session's artifacts through an `HttpApi` (its token: the owner's for every call but the shared ones). */
export class Artifacts {
  private readonly fetchFn: FetchLike;

  constructor(
    private readonly api: HttpApi,
    fetchFn: FetchLike | undefined = globalThis.fetch,
  ) {
    if (!fetchFn) throw new TypeError("no fetch: pass one");
    this.fetchFn = (url, init) => fetchFn(url, init);
  }

  /** Register an upload (a result of `parentId` when given): the artifact (`pending`) and its form. */
  create(sessionId: string, body: CreateArtifactBody, parentId?: string): Promise<CreatedArtifact> {
    const path = parentId === undefined ? `${session(sessionId)}/artifacts` : `${artifact(sessionId, parentId)}/results`;
    return this.api.call("POST", path, body);
  }

  /** Send `content` with the artifact's presigned form; storage then confirms it (`artifactUpdated`). */
  async upload(created: CreatedArtifact, content: Blob | ArrayBuffer | Uint8Array): Promise<void> {
    const form = new FormData();
    for (const [name, value] of Object.entries(created.upload.fields)) form.append(name, value);
    const bytes = content instanceof Blob ? content : Uint8Array.from(new Uint8Array(content));
    const file = bytes instanceof Blob ? bytes : new Blob([bytes], { type: created.artifact.contentType });
    form.append("file", file, created.artifact.fileName); // last: S3 reads the fields before the file
    let response: Response;
    try {
      response = await this.fetchFn(created.upload.url, { method: "POST", body: form, headers: created.upload.headers });
    } catch (error) {
      throw new HttpError("NETWORK_ERROR", `upload: ${String(error)}`, 0);
    }
    if (!response.ok) {
      const why = (await response.text()).slice(0, 300); // S3's XML: its code and message
      throw new HttpError("UPLOAD_REFUSED", `S3 refused the upload (${response.status}): ${why}`, response.status);
    }
  }

  /** The session's root artifacts newest first (the owner's); `shared: true`: the shared ones (anyone). */
  list(sessionId: string, options: { shared?: boolean; limit?: number; cursor?: string } = {}): Promise<ArtifactsPage> {
    const query = pageQuery({ shared: options.shared ? "true" : undefined, limit: options.limit, cursor: options.cursor });
    return this.api.call("GET", `${session(sessionId)}/artifacts${query}`);
  }

  results(sessionId: string, artifactId: string, options: { limit?: number; cursor?: string } = {}): Promise<ArtifactsPage> {
    return this.api.call("GET", `${artifact(sessionId, artifactId)}/results${pageQuery(options)}`);
  }

  update(sessionId: string, artifactId: string, body: UpdateArtifactBody): Promise<ArtifactView> {
    return this.api.call("PATCH", artifact(sessionId, artifactId), body);
  }

  /** Delete the artifact with its results and objects, repeating the DELETE while the server answers 202. */
  async delete(sessionId: string, artifactId: string): Promise<void> {
    while ((await this.api.call("DELETE", artifact(sessionId, artifactId))) !== undefined);
  }

  /** Delete everything the session holds (ending it first when live), repeating while answered 202. */
  async deleteSessionData(sessionId: string): Promise<void> {
    while ((await this.api.call("DELETE", `${session(sessionId)}/data`)) !== undefined);
  }

  /** A short-lived presigned GET of a shared artifact (anyone while the session is joinable; the owner: always).
   * Never kept: ask again rather than store it. */
  downloadLink(sessionId: string, artifactId: string): Promise<DownloadLink> {
    return this.api.call("GET", `${artifact(sessionId, artifactId)}/download`);
  }

  async download(sessionId: string, artifactId: string): Promise<Uint8Array> {
    const link = await this.downloadLink(sessionId, artifactId);
    const response = await this.fetchFn(link.url);
    if (!response.ok) throw new HttpError("DOWNLOAD_REFUSED", `storage answered ${response.status}`, response.status);
    return new Uint8Array(await response.arrayBuffer());
  }
}
