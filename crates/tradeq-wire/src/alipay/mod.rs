//! Alipay Open Platform: the OpenAPI v2 gateway (`/gateway.do`) and OpenAPI v3 (`/v3/…`).

pub mod aes;
pub mod cert;
pub mod keys;
pub mod sign;
pub mod v2;
pub mod v3;

#[cfg(test)]
mod test_vectors;

#[cfg(test)]
mod fuzz_smoke;
