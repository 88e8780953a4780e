//! `docs/configuration.md` holds the table of every setting exactly as the list of settings
//! renders it, so the documentation cannot drift from the code.

const BEGIN: &str = "<!-- settings-table:begin -->";
const END: &str = "<!-- settings-table:end -->";

#[test]
fn the_documented_table_is_the_one_the_code_renders() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/configuration.md");
    let doc = std::fs::read_to_string(&path).unwrap();
    let start = doc.find(BEGIN).expect("the begin marker") + BEGIN.len();
    let end = doc.find(END).expect("the end marker");
    let documented = doc[start..end].trim();
    let rendered = tradeq_server::config::markdown_table();
    let rendered = rendered.trim();
    if documented != rendered {
        let doc_lines: Vec<&str> = documented.lines().collect();
        let code_lines: Vec<&str> = rendered.lines().collect();
        let mut diff = String::new();
        for line in &doc_lines {
            if !code_lines.contains(line) {
                diff.push_str(&format!("- {line}\n"));
            }
        }
        for line in &code_lines {
            if !doc_lines.contains(line) {
                diff.push_str(&format!("+ {line}\n"));
            }
        }
        panic!(
            "the settings table of docs/configuration.md differs from the code \
             (- documented, + rendered):\n{diff}\nRegenerate it: replace the lines between \
             {BEGIN} and {END} with the output of `cargo run -q -- config-table`."
        );
    }
}
