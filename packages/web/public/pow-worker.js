// Solves a proof-of-work challenge of `GET /queue/challenge` (ALTCHA's v1 protocol) off the page's thread:
// finds n in [0, max] with SHA-256(salt + n) = challenge, with WebCrypto. Posts `{ tried }` now and then,
// and `{ number }` at the end (null when no n fits: the challenge was not made this way).

const BATCH = 1_000;

self.onmessage = async (event) => {
  const { challenge, salt, max } = event.data;
  const target = Uint8Array.from(challenge.match(/../g) ?? [], (byte) => parseInt(byte, 16));
  const encoder = new TextEncoder();
  const same = (digest) => {
    const bytes = new Uint8Array(digest);
    for (let i = 0; i < bytes.length; i++) if (bytes[i] !== target[i]) return false;
    return bytes.length === target.length;
  };
  for (let start = 0; start <= max; start += BATCH) {
    const end = Math.min(max, start + BATCH - 1);
    const digests = await Promise.all(
      Array.from({ length: end - start + 1 }, (_, i) =>
        crypto.subtle.digest('SHA-256', encoder.encode(`${salt}${start + i}`)),
      ),
    );
    const found = digests.findIndex(same);
    if (found !== -1) return self.postMessage({ number: start + found });
    self.postMessage({ tried: end + 1 });
  }
  self.postMessage({ number: null });
};
