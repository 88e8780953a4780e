// Keys, signatures and digests in the browser (WebCrypto). The private key or secret the user
// pastes is used here and never sent anywhere.

import { md5, hmacMd5 } from './md5.js';

const utf8 = new TextEncoder();

function subtle() {
  if (!globalThis.crypto || !crypto.subtle) {
    throw new Error('this browser gives no WebCrypto here: open the console over https, or on '
      + 'localhost / 127.0.0.1 (browsers only allow it in a secure context)');
  }
  return crypto.subtle;
}

export function toBase64(bytes) {
  let s = '';
  for (const b of new Uint8Array(bytes)) s += String.fromCharCode(b);
  return btoa(s);
}

export function fromBase64(text) {
  const s = atob(text.replace(/\s+/g, ''));
  return Uint8Array.from(s, c => c.charCodeAt(0));
}

export function hexUpper(bytes) {
  return Array.from(new Uint8Array(bytes), b => b.toString(16).padStart(2, '0')).join('').toUpperCase();
}

// The DER inside a PEM (or a bare base64 key, as Alipay's console shows it), and its label.
function der(pem) {
  const m = pem.match(/-----BEGIN ([A-Z ]+)-----([\s\S]*?)-----END \1-----/);
  if (m) return { label: m[1], bytes: fromBase64(m[2]) };
  const bare = pem.trim();
  if (!/^[A-Za-z0-9+/=\s]+$/.test(bare) || !bare) throw new Error('the key is neither PEM nor base64');
  return { label: '', bytes: fromBase64(bare) };
}

function derLength(n) {
  if (n < 0x80) return [n];
  const out = [];
  while (n > 0) { out.unshift(n & 0xff); n >>= 8; }
  return [0x80 | out.length, ...out];
}

function derNode(tag, content) {
  return Uint8Array.from([tag, ...derLength(content.length), ...content]);
}

// PKCS#1 RSAPrivateKey wrapped as PKCS#8, which is what WebCrypto imports.
function pkcs1ToPkcs8(pkcs1) {
  const version = Uint8Array.from([0x02, 0x01, 0x00]);
  const algorithm = Uint8Array.from([0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d,
    0x01, 0x01, 0x01, 0x05, 0x00]);
  const key = derNode(0x04, pkcs1);
  return derNode(0x30, Uint8Array.from([...version, ...algorithm, ...key]));
}

const RSA = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };

export async function importPrivateKey(pem) {
  const { label, bytes } = der(pem);
  if (label && label !== 'PRIVATE KEY' && label !== 'RSA PRIVATE KEY') {
    throw new Error(`a ${label} was pasted where the app's private key is expected`);
  }
  const attempts = label === 'RSA PRIVATE KEY' ? [pkcs1ToPkcs8(bytes)]
    : label === 'PRIVATE KEY' ? [bytes] : [bytes, pkcs1ToPkcs8(bytes)];
  for (const pkcs8 of attempts) {
    try {
      return await subtle().importKey('pkcs8', pkcs8, RSA, false, ['sign']);
    } catch { /* try the next encoding */ }
  }
  throw new Error('the private key does not read as an RSA key (PKCS#8 or PKCS#1, PEM or base64)');
}

export async function importPublicKey(pem) {
  const { bytes } = der(pem);
  return subtle().importKey('spki', bytes, RSA, false, ['verify']);
}

// SHA256withRSA of the UTF-8 text, as base64.
export async function rsaSign(key, text) {
  return toBase64(await subtle().sign(RSA, key, utf8.encode(text)));
}

export async function rsaVerify(key, text, signatureBase64) {
  let sig;
  try { sig = fromBase64(signatureBase64); } catch { return false; }
  return subtle().verify(RSA, key, sig, utf8.encode(text));
}

// TOP's digests, upper-case hex (docs/protocol/top.md §5).
export async function topDigest(method, secret, text) {
  if (method === 'md5') return hexUpper(md5(utf8.encode(secret + text + secret)));
  if (method === 'hmac') return hexUpper(hmacMd5(utf8.encode(secret), utf8.encode(text)));
  if (method === 'hmac-sha256') {
    const key = await subtle().importKey('raw', utf8.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    return hexUpper(await subtle().sign('HMAC', key, utf8.encode(text)));
  }
  throw new Error(`unknown sign method ${method}`);
}

export function randomHex(bytes) {
  const b = new Uint8Array(bytes);
  crypto.getRandomValues(b);
  return Array.from(b, x => x.toString(16).padStart(2, '0')).join('');
}
