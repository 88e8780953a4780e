//! Platform time formats (`yyyy-MM-dd HH:mm:ss` in GMT+8); one implementation, in the model crate.

pub use tradeq_model::time::{format_gmt8, from_epoch_millis, gmt8, parse_gmt8, DATE_TIME_FORMAT};
