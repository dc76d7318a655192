//! The book tells the truth about the code: includes, anchors, links and images all resolve,
//! every lesson has a chapter, and no chapter copies lesson code instead of including it.

use std::fs;
use std::path::Path;

use course::check_book;
use test_support::workspace_root;

#[test]
fn the_book_has_no_broken_includes_anchors_links_or_images() {
    let problems = check_book(&workspace_root());
    assert!(
        problems.is_empty(),
        "the book has problems:\n{}",
        problems.join("\n")
    );
}

/// The check must be able to fail: on a small book broken in every way it looks for, it reports
/// each breakage, and on the same book repaired it reports nothing.
#[test]
fn the_book_check_reports_each_kind_of_breakage() {
    let root = std::env::temp_dir().join(format!("course-book-check-{}", std::process::id()));
    let _ = fs::remove_dir_all(&root);
    let write = |path: &str, text: &str| {
        let path = root.join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    };
    let lesson_code = "// ANCHOR: main\nfn main() {\n    let listener = bind();\n    \
                       let (stream, peer) = listener.accept();\n    serve(stream, peer);\n    \
                       println!(\"done\");\n}\n// ANCHOR_END: main\n\
                       // ANCHOR: solution_1\nfn answer() {}\n// ANCHOR_END: solution_1\n";
    let unquoted = "// ANCHOR: forgotten\nfn forgotten() {}\n// ANCHOR_END: forgotten\n";
    write("lessons/lesson-01/Cargo.toml", "[package]\n");
    write("lessons/lesson-01/src/main.rs", lesson_code);
    write("lessons/lesson-02/Cargo.toml", "[package]\n");
    write("lessons/lesson-02/src/main.rs", "fn main() {}\n");
    write("lessons/lesson-01/src/extra.rs", unquoted);
    write("book/src/output/run.txt", "a\u{8}b\n");
    write("book/src/images/ok.svg", "<svg/>");
    write(
        "book/src/SUMMARY.md",
        "# Summary\n\n- [One](ch1.md)\n- [Gone](gone.md)\n",
    );
    let caption = "<span class=\"filename\">Filename: lessons/lesson-01/src/main.rs</span>\n\n\
                   <!-- i18n:skip -->\n\n";
    let good = format!(
        "# One\n\n## Run it {{#run-it}}\n\n## Stop it\n\n\
         {caption}```rust\n{{{{#include ../../lessons/lesson-01/src/main.rs:main}}}}\n```\n\n\
         See [running](#run-it) and ![ok](images/ok.svg).\n\n\
         <!-- i18n:skip -->\n```text\n{{{{#include output/run.txt}}}}\n```\n"
    );
    // Translations: one whose diagram is missing, one whose link moved, one with *italics*.
    write(
        "book/po/zh-CN.po",
        "msgid \"\"\nmsgstr \"Project-Id-Version: x\\n\"\n\n\
         msgid \"See ![ok](images/ok.svg).\"\nmsgstr \"见 ![好](images/zh-CN/gone.svg)。\"\n\n\
         msgid \"See [running](#run-it).\"\nmsgstr \"见[运行](#运行)。\"\n\n\
         msgid \"A _word_.\"\nmsgstr \"一个*词*。\"\n",
    );
    write("book/src/images/zh-CN/ok.svg", "<svg/>");
    // Two quotes without their caption: one with none, one whose caption names another file.
    let uncaptioned = "\n```rust\n{{#include ../../lessons/lesson-01/src/main.rs:main}}\n```\n\n\
                       <span class=\"filename\">Filename: lessons/lesson-01/src/lib.rs</span>\n\n\
                       ```rust\n{{#include ../../lessons/lesson-01/src/main.rs:main}}\n```\n";
    let broken = "\n<span class=\"filename\">Filename: lessons/lesson-01/src/nope.rs</span>\n\
                  ```rust\n{{#include ../../lessons/lesson-01/src/nope.rs}}\n```\n\
                  <span class=\"filename\">Filename: lessons/lesson-01/src/main.rs</span>\n\
                  ```rust\n{{#include ../../lessons/lesson-01/src/main.rs:no_anchor}}\n```\n\
                  [a](missing.md) [b](#no-such-heading) ![c](images/missing.svg) [d](#stop-it)\n\
                  ```rust\nfn main() {\n    let listener = bind();\n    let (stream, peer) = listener.accept();\n    \
                  serve(stream, peer);\n    println!(\"done\");\n}\n```\n";
    write("book/src/ch1.md", &format!("{good}{uncaptioned}{broken}"));

    let problems = check_book(&root);
    let expect = [
        "gone.md, which does not exist",
        "includes ../../lessons/lesson-01/src/nope.rs, which does not exist",
        "anchor `no_anchor`",
        "broken link: missing.md",
        "#no-such-heading",
        "broken image: images/missing.svg",
        "copies lesson code",
        "lessons/lesson-02 has no chapter",
        "anchor `forgotten`, which no page includes",
        "book/src/output/run.txt:1 holds the control character 0x08",
        "includes lessons/lesson-01/src/main.rs in a code block without the caption",
        "links to #stop-it, a heading of ch1.md whose id is not written out",
        "has a code block without `<!-- i18n:skip -->`",
        "book/po/zh-CN.po has a broken image: images/zh-CN/gone.svg",
        "the translation of \"See ![ok](images/ok.svg).…\" links to [\"images/gone.svg\"]",
        "the translation of \"See [running](#run-it).…\" links to [\"#运行\"]",
        "the translation of \"A _word_.…\" writes italics with `*`",
    ];
    for needle in expect {
        assert!(
            problems.iter().any(|p| p.contains(needle)),
            "no problem mentions {needle:?}; problems:\n{}",
            problems.join("\n")
        );
    }
    let uncaptioned_found = problems
        .iter()
        .filter(|p| p.contains("without the caption"))
        .count();
    assert_eq!(uncaptioned_found, 2, "{problems:#?}");
    // Every fence of `uncaptioned` and `broken` lacks the mark: five blocks.
    let unmarked = problems
        .iter()
        .filter(|p| p.contains("without `<!-- i18n:skip -->`"))
        .count();
    assert_eq!(unmarked, 5, "{problems:#?}");
    assert_eq!(problems.len(), expect.len() + 1 + 4, "{problems:#?}");

    // Repaired, the same book passes: the check does not complain about what is right.
    write("book/src/SUMMARY.md", "# Summary\n\n- [One](ch1.md)\n");
    write("book/src/ch1.md", &good);
    fs::remove_dir_all(root.join("lessons/lesson-02")).unwrap();
    fs::remove_file(root.join("lessons/lesson-01/src/extra.rs")).unwrap();
    write("book/src/output/run.txt", "a\tb\n");
    write(
        "book/po/zh-CN.po",
        "msgid \"See ![ok](images/ok.svg).\"\nmsgstr \"见 ![好](images/zh-CN/ok.svg)。\"\n",
    );
    assert_eq!(check_book(&root), Vec::<String>::new());
    fs::remove_dir_all(&root).unwrap();
    assert!(!Path::new(&root).exists());
}

/// The scripts that make the book's output share their helpers (`common.sh`: time bounds,
/// network namespaces of their own) and need no lock outside the repository.
#[test]
fn every_book_script_sources_the_common_helpers_and_takes_no_lock() {
    let dir = workspace_root().join("book/scripts");
    let mut scripts = 0;
    for entry in fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if !name.ends_with(".sh") || name == "common.sh" {
            continue;
        }
        scripts += 1;
        let text = fs::read_to_string(&path).unwrap();
        if name != "regen-output.sh" {
            assert!(
                text.contains(". \"$(dirname \"$0\")/common.sh\""),
                "{name} does not source common.sh"
            );
        }
        assert!(!text.contains("flock"), "{name} takes a lock");
    }
    assert!(scripts > 0, "no scripts in {}", dir.display());
}
