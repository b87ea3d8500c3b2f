// Resumable uploads with tus-js-client to `POST …/stream` (tus creation), then PATCHes
// to the `/tus/{uid}` URL Usher hands back. tus-js-client keeps each unfinished upload's
// URL in localStorage under a fingerprint of the file (name, type, size, modified time,
// endpoint): choosing the same file again after a reload resumes it. That record holds
// the upload URL and the file's name only; the API token is sent as a header and never
// stored.
import * as tus from 'tus-js-client';
import { accountBase } from './api.js';

/** Bytes per PATCH: each one is durable on the server once acknowledged. */
export const CHUNK_BYTES = 16 * 1024 * 1024;

function endpoint(session) {
  return new URL(`${accountBase(session)}/stream`, window.location.origin).toString();
}

/** Unfinished uploads of this account remembered by tus-js-client, for the resume hint. */
export async function unfinishedUploads(session) {
  try {
    const all = await tus.defaultOptions.urlStorage.findAllUploads();
    const ep = endpoint(session);
    return all.filter((u) => typeof u.urlStorageKey === 'string' && u.urlStorageKey.includes(ep));
  } catch {
    return [];
  }
}

/**
 * Starts (or resumes) uploading `file`; `on` gets progress(sent, total), success(uid),
 * error(message). Returns {pause(), resume(), abort()}.
 */
export function startUpload(session, file, on) {
  let uid = null;
  const upload = new tus.Upload(file, {
    endpoint: endpoint(session),
    headers: { authorization: `Bearer ${session.token}` },
    metadata: { name: file.name, filetype: file.type || 'application/octet-stream' },
    chunkSize: CHUNK_BYTES,
    retryDelays: [0, 1000, 3000, 5000, 10000],
    storeFingerprintForResuming: true,
    removeFingerprintOnSuccess: true,
    onAfterResponse(_req, res) {
      const id = res.getHeader('stream-media-id');
      if (id) uid = id;
    },
    onProgress(sent, total) {
      on.progress(sent, total);
    },
    onSuccess() {
      if (!uid && upload.url) uid = upload.url.split('/').pop().split('?')[0];
      on.success(uid);
    },
    onError(err) {
      const res = err && err.originalResponse;
      let message = err && err.message ? err.message : String(err);
      if (res) {
        try {
          const env = JSON.parse(res.getBody());
          if (env && env.errors && env.errors[0]) message = env.errors[0].message;
        } catch {
          // Not an envelope (a tus status without a body): keep tus-js-client's text.
        }
      }
      on.error(message);
    },
  });
  upload.findPreviousUploads().then((previous) => {
    if (previous.length > 0) {
      upload.resumeFromPreviousUpload(previous[0]);
      on.resumed?.();
    }
    upload.start();
  });
  return {
    pause: () => upload.abort(false),
    resume: () => upload.start(),
    abort: () => upload.abort(true),
  };
}
