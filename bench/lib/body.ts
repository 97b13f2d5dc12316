/** The origin's fixed response body: `size` bytes of lowercase letters (safe inside an nginx string). */
export function originBody(size: number): string {
  let out = '';
  for (let i = 0; i < size; i++) out += String.fromCharCode(97 + (i % 26));
  return out;
}
