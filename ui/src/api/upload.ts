// Uploading one attachment: `POST /messaging/conversations/:id/attachments` (multipart/form-data,
// one part `file`), answered in the usual envelope with `data.attachment`.
//
// This is the one REST call of the UI outside the generated openapi-fetch client (./client.ts), and
// on purpose: a person waiting for a photo or a voice message wants to see how far it got, and only
// XMLHttpRequest reports upload progress (`xhr.upload`'s `progress` events); fetch has no upload
// progress in any browser. Everything else keeps to the client: same bearer token, same envelope,
// refusals as ApiError in the API's own words (413 too large, 415 type not allowed, 400, 403, 429, 503).

import type { UploadCall } from "../attachments";
import type { Attachment } from "../types";
import { ApiError } from "./client";

export function uploadAttachment(
  token: string,
  conversationId: string,
  file: File,
  onProgress: (fraction: number) => void,
  base = "",
): UploadCall {
  const xhr = new XMLHttpRequest();
  const done = new Promise<Attachment>((resolve, reject) => {
    xhr.open("POST", `${base}/messaging/conversations/${encodeURIComponent(conversationId)}/attachments`);
    xhr.setRequestHeader("Authorization", `Bearer ${token}`);
    xhr.responseType = "text";
    xhr.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable && e.total > 0) onProgress(e.loaded / e.total);
    });
    xhr.addEventListener("load", () => {
      let body: { success?: unknown; message?: unknown; error?: unknown; data?: { attachment?: Attachment } } = {};
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        // not the envelope (a proxy's page): refused below with the status
      }
      if (xhr.status >= 200 && xhr.status < 300 && body.success === true && body.data?.attachment) {
        resolve(body.data.attachment);
        return;
      }
      reject(
        new ApiError(
          xhr.status,
          typeof body.error === "string" ? body.error : "internal",
          typeof body.message === "string"
            ? body.message
            : xhr.status === 413
              ? "The file is too large"
              : `The server answered ${xhr.status}`,
        ),
      );
    });
    xhr.addEventListener("error", () => reject(new ApiError(0, "network", "Cannot reach the server")));
    xhr.addEventListener("abort", () => reject(new ApiError(0, "aborted", "Upload cancelled")));
    const form = new FormData();
    form.append("file", file, file.name);
    xhr.send(form);
  });
  return { done, abort: () => xhr.abort() };
}
