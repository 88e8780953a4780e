//! Deterministic mutation smoke test: truncations and byte flips of the document's vectors must
//! come back as values or errors, never panics. (A stand-in for the real fuzzers.)

use crate::alipay::test_vectors::*;
use crate::alipay::{keys, v2, v3};
use crate::params::{multipart_boundary, parse_form, parse_multipart, Charset};

/// xorshift64: reproducible noise without a dependency.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn mutations(seed: &[u8], noise: &mut Noise, out: &mut Vec<Vec<u8>>) {
    for cut in (0..seed.len()).step_by(7) {
        out.push(seed[..cut].to_vec());
    }
    const INTERESTING: &[u8] = b"{}[]\",:\\%+=&-\r\n \x00\xff\xe4";
    for _ in 0..400 {
        let mut m = seed.to_vec();
        for _ in 0..(1 + noise.next() % 4) {
            if m.is_empty() {
                break;
            }
            let i = (noise.next() as usize) % m.len();
            let b = INTERESTING[(noise.next() as usize) % INTERESTING.len()];
            match noise.next() % 3 {
                0 => m[i] = b,
                1 => m.insert(i, b),
                _ => {
                    m.remove(i);
                }
            }
        }
        out.push(m);
    }
}

#[test]
fn mutated_inputs_never_panic() {
    let mut noise = Noise(0x9e37_79b9_7f4a_7c15);
    let multipart = b"--b\r\nContent-Disposition: form-data; name=\"a\"; filename=\"f\"\r\nContent-Type: text/plain; charset=gbk\r\n\r\nv\r\n--b\r\nContent-Disposition: form-data; name=b\r\n\r\n\xd6\xd0\r\n--b--\r\n".to_vec();
    let seeds: Vec<Vec<u8>> = vec![
        A3_RESPONSE.as_bytes().to_vec(),
        format!("{}&{}", a2_query(), A2_BODY).into_bytes(),
        B1_AUTHORIZATION.as_bytes().to_vec(),
        A2_APP_PUBLIC_PEM.as_bytes().to_vec(),
        multipart,
        br#"{"x_response":"QUJD\/+","alipay_cert_sn":"a\u00e9","sign":"c2ln"}"#.to_vec(),
    ];
    let mut inputs = Vec::new();
    for s in &seeds {
        mutations(s, &mut noise, &mut inputs);
    }
    for input in &inputs {
        let _ = parse_form(input, Charset::Utf8);
        let _ = parse_form(input, Charset::Gbk);
        let _ = parse_multipart(input, "b", Charset::Utf8);
        let text = String::from_utf8_lossy(input);
        let _ = multipart_boundary(&text);
        let _ = v2::extract_signed_response(&text, "alipay.trade.query", true);
        let _ = v2::extract_signed_response(&text, "x", false);
        let _ = v3::parse_authorization(&text);
        let _ = v3::method_for_v3_path(&text);
        let _ = keys::parse_public_key(&text);
        let _ = keys::parse_private_key(&text);
    }
}
