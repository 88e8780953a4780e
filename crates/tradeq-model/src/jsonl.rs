//! A JSON Lines upload as a whole (a `tradeq import` file, an admin `_batch` body): the mistakes
//! that are about the file rather than one record, each worth one message instead of one per
//! line.

use crate::record::{Record, RecordKind};

/// The UTF-8 byte order mark some editors and spreadsheet exports put at the start of a file.
pub const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The first line of a file without its byte order mark, if it has one. The mark is not part of
/// any record, so it is skipped rather than refused.
pub fn strip_bom(first_line: &[u8]) -> &[u8] {
    first_line.strip_prefix(BOM).unwrap_or(first_line)
}

/// Whether the first non-blank line of an upload opens a JSON array (`[` alone on a line when
/// pretty-printed, `[{…},{…}]` on one line): a record is always an object, so such a file holds
/// no record line at all.
pub fn opens_json_array(first_line: &str) -> bool {
    first_line.trim_start().starts_with('[')
}

/// What to tell someone whose file is a JSON array.
pub const JSON_ARRAY_MESSAGE: &str = "this is a JSON array, but records are read as JSON Lines: \
     one object per line, without the enclosing `[ ]`. Convert the file with \
     `jq -c '.[]' file.json > file.jsonl`";

/// How many failing first lines it takes to decide that a file holds records of another kind.
pub const KIND_PROBE_LINES: usize = 5;

/// What [`KindProbe`] has concluded so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KindVerdict {
    /// The first lines all failed, and each reads as this other kind; wait for more.
    Undecided,
    /// A line read as the expected kind, or as none or a different one: the file is what it was
    /// said to be (with bad lines, perhaps), and every line counts on its own.
    Settled,
    /// The first [`KIND_PROBE_LINES`] lines (or all the lines, if fewer) failed and each reads
    /// as this kind.
    OtherKind(RecordKind),
}

/// Watches the first lines of an upload of `kind` for a file of another kind, so that an import
/// of the wrong file stops with one question instead of an error for each of its lines.
#[derive(Debug, Clone)]
pub struct KindProbe {
    kind: RecordKind,
    failed: usize,
    other: Option<RecordKind>,
    settled: bool,
}

impl KindProbe {
    /// A probe for an upload said to hold records of `kind`.
    pub fn new(kind: RecordKind) -> KindProbe {
        KindProbe {
            kind,
            failed: 0,
            other: None,
            settled: false,
        }
    }

    /// Notes the next non-blank line, `loaded` when it was accepted as a record of the upload's
    /// kind. Once settled, it stays settled and costs nothing.
    pub fn line(&mut self, text: &str, loaded: bool) -> KindVerdict {
        if self.settled {
            return KindVerdict::Settled;
        }
        // A line with the right shape but a broken invariant is a bad record of the right kind.
        if loaded || Record::parse_unchecked(self.kind, text).is_ok() {
            return self.settle();
        }
        let reads_as = RecordKind::ALL
            .into_iter()
            .filter(|k| *k != self.kind)
            .find(|k| Record::parse_unchecked(*k, text).is_ok());
        match (reads_as, self.other) {
            (Some(k), None) => self.other = Some(k),
            (Some(k), Some(other)) if k == other => {}
            _ => return self.settle(),
        }
        self.failed += 1;
        match self.other {
            Some(other) if self.failed >= KIND_PROBE_LINES => {
                self.settled = true;
                KindVerdict::OtherKind(other)
            }
            _ => KindVerdict::Undecided,
        }
    }

    /// The verdict at the end of the upload: a short file whose every line reads as another
    /// kind is of that kind.
    pub fn finish(&mut self) -> KindVerdict {
        match self.other {
            Some(other) if !self.settled && self.failed > 0 => {
                self.settled = true;
                KindVerdict::OtherKind(other)
            }
            _ => self.settle(),
        }
    }

    /// Stops watching: a line that is not even text settles the question as well as any.
    pub fn settle(&mut self) -> KindVerdict {
        self.settled = true;
        KindVerdict::Settled
    }
}

/// What the probe found, for a message that goes on to say what to do: "its first 5 lines are
/// not alipay-trade records but each reads as an omni-order record: is this an `omni-order`".
pub fn other_kind_question(kind: RecordKind, lines: usize, other: RecordKind) -> String {
    let a_other = article(other);
    let what = if lines == 1 {
        format!(
            "its only line is not {} {kind} record but reads",
            article(kind)
        )
    } else {
        format!("its first {lines} lines are not {kind} records but each reads")
    };
    format!("{what} as {a_other} {other} record: is this {a_other} `{other}`")
}

/// `a` or `an` before a kind's name, as it is said.
pub fn article(kind: RecordKind) -> &'static str {
    match kind.as_str().as_bytes().first() {
        Some(b'a' | b'e' | b'i' | b'o' | b'u') => "an",
        _ => "a",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OMNI: &str =
        r#"{"order_id":"1","merchant_id":"2088102146225135","out_order_id":"o","o2o_guide_id":1}"#;

    #[test]
    fn the_mark_is_skipped_only_at_the_start() {
        assert_eq!(strip_bom(b"\xEF\xBB\xBF{}"), b"{}");
        assert_eq!(strip_bom(b"{}"), b"{}");
        assert_eq!(strip_bom(b" \xEF\xBB\xBF{}"), b" \xEF\xBB\xBF{}");
    }

    #[test]
    fn arrays_are_recognised_pretty_or_not() {
        assert!(opens_json_array("["));
        assert!(opens_json_array("  [{\"a\":1},{\"a\":2}]"));
        assert!(!opens_json_array("{\"a\":[1]}"));
    }

    #[test]
    fn five_lines_of_another_kind_decide() {
        let mut p = KindProbe::new(RecordKind::AlipayTrade);
        for _ in 1..KIND_PROBE_LINES {
            assert_eq!(p.line(OMNI, false), KindVerdict::Undecided);
        }
        assert_eq!(
            p.line(OMNI, false),
            KindVerdict::OtherKind(RecordKind::OmniOrder)
        );
        assert_eq!(p.line(OMNI, false), KindVerdict::Settled);
    }

    #[test]
    fn a_short_file_of_another_kind_is_decided_at_its_end() {
        let mut p = KindProbe::new(RecordKind::KoubeiOrder);
        assert_eq!(p.line(OMNI, false), KindVerdict::Undecided);
        assert_eq!(p.finish(), KindVerdict::OtherKind(RecordKind::OmniOrder));
    }

    #[test]
    fn garbage_or_a_good_line_settles() {
        let mut p = KindProbe::new(RecordKind::AlipayTrade);
        assert_eq!(p.line(OMNI, false), KindVerdict::Undecided);
        assert_eq!(p.line("{not json", false), KindVerdict::Settled);
        assert_eq!(p.finish(), KindVerdict::Settled);
        let mut p = KindProbe::new(RecordKind::OmniOrder);
        assert_eq!(p.line(OMNI, true), KindVerdict::Settled);
        // The right shape with a broken rule is a bad record of the right kind.
        let mut p = KindProbe::new(RecordKind::OmniOrder);
        let bad = OMNI.replace("\"o2o_guide_id\":1", "\"o2o_guide_id\":1,\"total_fee\":-5");
        assert_eq!(p.line(&bad, false), KindVerdict::Settled);
    }

    #[test]
    fn articles() {
        assert_eq!(article(RecordKind::OmniOrder), "an");
        assert_eq!(article(RecordKind::KoubeiOrder), "a");
    }
}
