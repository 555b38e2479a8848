// The signed form's photo, shrunk on the phone to a few hundred KB before it is kept.
export const TARGET_BYTES = 350 * 1024;
const LONGEST_EDGE = [1600, 1280, 1024, 800];
const QUALITY = [0.82, 0.7, 0.6, 0.5];

function toBlob(canvas, quality) {
  return new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", quality));
}

export async function shrink(file) {
  const bitmap = await createImageBitmap(file);
  let best = null;
  for (const edge of LONGEST_EDGE) {
    const scale = Math.min(1, edge / Math.max(bitmap.width, bitmap.height));
    const canvas = document.createElement("canvas");
    canvas.width = Math.max(1, Math.round(bitmap.width * scale));
    canvas.height = Math.max(1, Math.round(bitmap.height * scale));
    canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    for (const quality of QUALITY) {
      const blob = await toBlob(canvas, quality);
      if (!best || blob.size < best.size) best = blob;
      if (blob.size <= TARGET_BYTES) return blob;
    }
  }
  return best;
}
