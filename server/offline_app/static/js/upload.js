// Photos over a bad line: a small tus 1.0 client (core protocol + creation).
// The upload's URL and offset are kept in IndexedDB after every piece, so a cut connection,
// a reload or a phone restart resumes where the server says it stands (HEAD), not from 0.
import * as api from "./api.js";
import * as db from "./db.js";
import { Offline, deviceId } from "./sync.js";

export const CHUNK = 64 * 1024;
const TUS = { "Tus-Resumable": "1.0.0" };

function base64(text) {
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

async function request(path, options) {
  try {
    return await api.call(path, options);
  } catch (error) {
    if (error.status === 0) throw new Offline(error.message);
    throw error;
  }
}

async function create(photo) {
  const meta = [
    `registration_id ${base64(photo.registration_id)}`,
    `filename ${base64(photo.name || "signed-form.jpg")}`,
    `device_id ${base64(await deviceId())}`,
  ].join(",");
  const response = await request("/api/v1/uploads", {
    method: "POST",
    headers: { ...TUS, "Upload-Length": String(photo.blob.size), "Upload-Metadata": meta },
  });
  photo.upload_url = response.headers.get("Location");
  photo.offset = 0;
  photo.state = "uploading";
  await db.put("photos", photo);
}

async function where(photo) {
  const response = await request(photo.upload_url, { method: "HEAD", headers: TUS });
  photo.offset = Number(response.headers.get("Upload-Offset"));
  settle(photo, response);
  await db.put("photos", photo);
}

function settle(photo, response) {
  const sha = response.headers.get("FieldSync-Sha256");
  if (sha) {
    photo.sha256 = sha;
    photo.change_status = response.headers.get("FieldSync-Change-Status");
    photo.state = "done";
  }
}

// Send one photo to the end; progress(fraction) after each piece.
export async function send(photo, progress = () => {}) {
  if (!photo.upload_url) await create(photo);
  else await where(photo);
  while (photo.state !== "done") {
    if (photo.offset >= photo.blob.size) {
      await where(photo);
      if (photo.state !== "done") throw new Error("upload complete but not linked");
      break;
    }
    const piece = photo.blob.slice(photo.offset, photo.offset + CHUNK);
    let response;
    try {
      response = await request(photo.upload_url, {
        method: "PATCH",
        headers: { ...TUS, "Upload-Offset": String(photo.offset), "Content-Type": "application/offset+octet-stream" },
        body: piece,
        raw: true,
      });
    } catch (error) {
      if (error.status === 409) { await where(photo); continue; } // ask where it stands
      if (error.status === 404) { photo.upload_url = null; await db.put("photos", photo); return send(photo, progress); }
      throw error;
    }
    photo.offset = Number(response.headers.get("Upload-Offset"));
    settle(photo, response);
    await db.put("photos", photo);
    progress(photo.offset / photo.blob.size);
  }
  return photo;
}

// Every photo whose registration the server already has.
export async function sendAll(known, progress = () => {}) {
  const photos = (await db.all("photos")).filter((p) => p.state !== "done" && known(p.registration_id));
  const total = photos.reduce((n, p) => n + p.blob.size, 0);
  let before = 0;
  for (const photo of photos) {
    await send(photo, (fraction) => progress((before + fraction * photo.blob.size) / total));
    before += photo.blob.size;
  }
  return photos.length;
}
