//! Checks that the book tells the truth about the code.
//!
//! mdBook 0.5 builds a book happily when an `{{#include}}` names a missing file (it leaves the
//! raw text in the page), renders a missing anchor as an empty block, and says nothing about
//! broken links or images. So the course checks them itself, with [`check_book`]:
//!
//! - every chapter listed in `SUMMARY.md` exists;
//! - every `{{#include path}}` / `{{#include path:anchor}}` names a file that exists and an
//!   anchor (`ANCHOR: name` … `ANCHOR_END: name`) that the file has;
//! - every internal link, `#fragment` and image points at something that exists;
//! - every lesson crate under `lessons/` has a chapter that includes its code;
//! - every code block that includes a Rust file has, on the line before it (blank lines
//!   aside), a caption naming that file: `<span class="filename">Filename: lessons/…/x.rs</span>`
//!   (the folded answers too, so that a reader always knows which file a snippet comes from);
//! - no code block in the book is a copy of lesson code (quote it by include, or it drifts);
//! - no anchor in the lessons or tools is left that no page includes (a quote that was dropped
//!   or renamed), except `solution_*` anchors;
//! - the book's text sources (Markdown, SVG, program output) hold no control characters
//!   besides tab and newline (an escape such as `\b` typed into a string ends up as one);
//! - for the Chinese edition (`book/po/`): every code block is marked `<!-- i18n:skip -->`, so
//!   code and program output stay as the programs print them in every edition; every link to a
//!   heading names an id written out on the heading (`{#id}`), which a translated heading keeps;
//!   a translation links where its English does (a diagram may be its `images/zh-CN/` version,
//!   which must exist) and writes italics as `<em>`, never `*x*`.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::{Component, Path, PathBuf};

/// How many consecutive lines a code block may share with a lesson before it counts as a copy.
const COPY_WINDOW: usize = 4;

/// The mark that keeps the next block out of translation (mdbook-i18n-helpers).
const SKIP: &str = "<!-- i18n:skip -->";

/// Everything wrong with the book under `root/book`, one sentence each; empty when all is well.
pub fn check_book(root: &Path) -> Vec<String> {
    let src = root.join("book/src");
    let mut problems = Vec::new();

    let summary = match fs::read_to_string(src.join("SUMMARY.md")) {
        Ok(text) => text,
        Err(e) => return vec![format!("cannot read book/src/SUMMARY.md: {e}")],
    };
    let mut chapters = Vec::new();
    for link in links(&summary) {
        if link.target.is_empty() || is_external(&link.target) {
            continue;
        }
        let path = src.join(&link.target);
        if path.is_file() {
            chapters.push(path);
        } else {
            problems.push(format!(
                "SUMMARY.md lists {}, which does not exist",
                link.target
            ));
        }
    }

    let lesson_windows = lesson_line_windows(&root.join("lessons"));
    let mut included_by_chapters: HashSet<PathBuf> = HashSet::new();
    // (file, anchor) for every anchored include; (file, None) for a whole-file include.
    let mut included_anchors: HashSet<(PathBuf, Option<String>)> = HashSet::new();
    for page in markdown_files(&src) {
        let text = fs::read_to_string(&page).unwrap_or_default();
        let name = page
            .strip_prefix(root)
            .unwrap_or(&page)
            .display()
            .to_string();
        let dir = page.parent().unwrap_or(&src);
        for include in includes(&text) {
            let file = normalize(&dir.join(&include.path));
            match fs::read_to_string(&file) {
                Err(_) => problems.push(format!(
                    "{name} includes {}, which does not exist",
                    include.path
                )),
                Ok(content) => {
                    if let Some(anchor) = &include.anchor {
                        let start = format!("ANCHOR: {anchor}");
                        let end = format!("ANCHOR_END: {anchor}");
                        if !has_marker(&content, &start) || !has_marker(&content, &end) {
                            problems.push(format!(
                                "{name} includes anchor `{anchor}` of {}, which has no such anchor",
                                include.path
                            ));
                        }
                    }
                    included_anchors.insert((file.clone(), include.anchor.clone()));
                    if chapters.contains(&page) {
                        included_by_chapters.insert(file);
                    }
                }
            }
        }
        for link in links(&text) {
            // SUMMARY.md's links were checked above, as the list of chapters.
            if is_external(&link.target) || page.ends_with("SUMMARY.md") {
                continue;
            }
            problems.extend(check_link(&name, dir, &page, &link));
        }
        for (line, file) in uncaptioned_includes(&text, dir, root) {
            problems.push(format!(
                "{name}:{line} includes {file} in a code block without the caption \
                 `<span class=\"filename\">Filename: {file}</span>` on the line before it"
            ));
        }
        for line in translatable_code_blocks(&text) {
            problems.push(format!(
                "{name}:{line} has a code block without `{SKIP}` on the line before it: code \
                 and program output are not translated (book/po/README.md)"
            ));
        }
        for copy in copied_blocks(&text, &lesson_windows) {
            problems.push(format!(
                "{name} has a code block that copies lesson code ({copy}); quote it with {{{{#include}}}}"
            ));
        }
    }

    for (file, anchor) in defined_anchors(root) {
        let file = normalize(&file);
        // The exercises' folded answers are to include their `solution_*` anchors; until
        // every chapter does, those are exempt.
        if anchor.starts_with("solution_") || included_anchors.contains(&(file.clone(), None)) {
            continue;
        }
        if !included_anchors.contains(&(file.clone(), Some(anchor.clone()))) {
            problems.push(format!(
                "{} has anchor `{anchor}`, which no page includes",
                file.strip_prefix(root).unwrap_or(&file).display()
            ));
        }
    }
    for file in ["md", "svg", "txt"]
        .into_iter()
        .flat_map(|extension| files_with_extension(&src, extension))
    {
        let text = fs::read_to_string(&file).unwrap_or_default();
        for (number, line) in text.lines().enumerate() {
            if let Some(c) = line.chars().find(|&c| c.is_control() && c != '\t') {
                problems.push(format!(
                    "{}:{} holds the control character {:#04x}",
                    file.strip_prefix(root).unwrap_or(&file).display(),
                    number + 1,
                    c as u32
                ));
            }
        }
    }

    for po in files_with_extension(&root.join("book/po"), "po") {
        let name = po.strip_prefix(root).unwrap_or(&po).display().to_string();
        let text = fs::read_to_string(&po).unwrap_or_default();
        for (english, translated) in messages(&text) {
            let begins: String = english.chars().take(50).collect();
            // The same links as the English, but a diagram may be its Chinese version.
            let targets = |text: &str| {
                let mut found: Vec<String> = links(text)
                    .into_iter()
                    .map(|link| link.target.replacen("images/zh-CN/", "images/", 1))
                    .collect();
                found.sort();
                found
            };
            if targets(&translated) != targets(&english) {
                problems.push(format!(
                    "{name}: the translation of \"{begins}…\" links to {:?}, the English to {:?}",
                    targets(&translated),
                    targets(&english)
                ));
            }
            if strip_inline_code(&translated)
                .replace("**", "")
                .contains('*')
            {
                problems.push(format!(
                    "{name}: the translation of \"{begins}…\" writes italics with `*`: write \
                     <em>…</em> (mdbook-gettext turns *x* into _x_, which does not render \
                     between Chinese characters)"
                ));
            }
            for link in links(&translated) {
                // A `#fragment` alone points into the message's own chapter: the same target
                // as the English's (above), which is checked in the chapter.
                if is_external(&link.target) || link.target.starts_with('#') {
                    continue;
                }
                // A message's links are relative to the chapters' folder.
                let page = src.join("translation.md");
                problems.extend(check_link(&name, &src, &page, &link));
            }
        }
    }

    for lesson in lesson_dirs(&root.join("lessons")) {
        let lesson = normalize(&lesson);
        if !included_by_chapters.iter().any(|f| f.starts_with(&lesson)) {
            problems.push(format!(
                "{} has no chapter in SUMMARY.md that includes its code",
                lesson.strip_prefix(root).unwrap_or(&lesson).display()
            ));
        }
    }
    problems
}

/// One `{{#include path}}` or `{{#include path:anchor}}` (line ranges have no anchor).
struct Include {
    path: String,
    anchor: Option<String>,
}

fn includes(text: &str) -> Vec<Include> {
    let mut found = Vec::new();
    for directive in ["{{#include ", "{{#rustdoc_include "] {
        let mut rest = text;
        while let Some(at) = rest.find(directive) {
            let escaped = rest[..at].ends_with('\\');
            rest = &rest[at + directive.len()..];
            let Some(end) = rest.find("}}") else { break };
            if escaped {
                continue;
            }
            let spec = rest[..end].trim();
            let (path, selector) = match spec.split_once(':') {
                Some((path, selector)) => (path, Some(selector)),
                None => (spec, None),
            };
            // A selector of digits (`10`, `10:20`, `:20`) is a line range, not an anchor.
            let anchor = selector
                .filter(|s| !s.chars().all(|c| c.is_ascii_digit() || c == ':'))
                .map(str::to_string);
            found.push(Include {
                path: path.to_string(),
                anchor,
            });
        }
    }
    found
}

/// The code blocks of `text` that include a Rust file without a caption naming it just before
/// the opening fence: (line of the fence, counting from 1; the file, relative to `root`).
fn uncaptioned_includes(text: &str, dir: &Path, root: &Path) -> Vec<(usize, String)> {
    let root = normalize(root);
    let lines: Vec<&str> = text.lines().collect();
    let mut missing = Vec::new();
    let mut number = 0;
    while number < lines.len() {
        if !lines[number].trim_start().starts_with("```") {
            number += 1;
            continue;
        }
        let open = number;
        let close = (open + 1..lines.len())
            .find(|&n| lines[n].trim_start().starts_with("```"))
            .unwrap_or(lines.len());
        let caption = lines[..open]
            .iter()
            .rev()
            .find(|line| !line.trim().is_empty() && line.trim() != SKIP)
            .map(|line| line.trim());
        for include in includes(&lines[open + 1..close].join("\n")) {
            if !include.path.ends_with(".rs") {
                continue;
            }
            let file = normalize(&dir.join(&include.path));
            let file = file
                .strip_prefix(&root)
                .unwrap_or(&file)
                .display()
                .to_string();
            let want = format!("<span class=\"filename\">Filename: {file}</span>");
            if caption != Some(want.as_str()) {
                missing.push((open + 1, file));
            }
        }
        number = close + 1;
    }
    missing
}

/// The opening fences (line numbers, from 1) of the code blocks of `text` that do not have
/// [`SKIP`] on the line before them, blank lines aside.
fn translatable_code_blocks(text: &str) -> Vec<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let mut unmarked = Vec::new();
    let mut in_code = false;
    for (number, line) in lines.iter().enumerate() {
        if !line.trim_start().starts_with("```") {
            continue;
        }
        if !in_code {
            let before = lines[..number].iter().rev().find(|l| !l.trim().is_empty());
            if before.map(|l| l.trim()) != Some(SKIP) {
                unmarked.push(number + 1);
            }
        }
        in_code = !in_code;
    }
    unmarked
}

/// The messages of a PO file that have a translation, as (English, translation), unescaped;
/// the header and obsolete messages (`#~`) are left out.
fn messages(po: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let (mut english, mut translated) = (String::new(), String::new());
    // Which string the continuation lines (`"..."`) belong to.
    let mut reading: Option<&str> = None;
    let mut finish = |english: &mut String, translated: &mut String| {
        if !english.is_empty() && !translated.is_empty() {
            found.push((std::mem::take(english), std::mem::take(translated)));
        }
        english.clear();
        translated.clear();
    };
    for line in po.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("msgid ") {
            finish(&mut english, &mut translated);
            english = unquote(rest);
            reading = Some("msgid");
        } else if let Some(rest) = line.strip_prefix("msgstr ") {
            translated = unquote(rest);
            reading = Some("msgstr");
        } else if line.starts_with('"') {
            match reading {
                Some("msgid") => english.push_str(&unquote(line)),
                Some("msgstr") => translated.push_str(&unquote(line)),
                _ => {}
            }
        } else {
            reading = None;
        }
    }
    finish(&mut english, &mut translated);
    found
}

/// The text of one quoted PO string: `"a \"b\"\n"` is `a "b"` and a newline.
fn unquote(quoted: &str) -> String {
    let inner = quoted.trim().trim_start_matches('"').trim_end_matches('"');
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

fn has_marker(content: &str, marker: &str) -> bool {
    content.lines().any(|line| {
        line.split_once(marker)
            .is_some_and(|(_, after)| after.trim().is_empty())
    })
}

/// A link or image target found in Markdown or HTML.
struct Link {
    target: String,
    image: bool,
}

/// Markdown links `[x](t)`, images `![x](t)`, and HTML `src="t"` / `href="t"`, outside code.
fn links(text: &str) -> Vec<Link> {
    let mut found = Vec::new();
    for line in prose_lines(text) {
        let line = strip_inline_code(line);
        let mut rest = line.as_str();
        while let Some(at) = rest.find("](") {
            let image = rest[..at].rfind("![").is_some_and(|bang| {
                !rest[bang..at].contains("](") && !rest[bang + 2..at].contains('[')
            });
            rest = &rest[at + 2..];
            let Some(end) = rest.find(')') else { break };
            let target = rest[..end].split_whitespace().next().unwrap_or("");
            found.push(Link {
                target: target.trim_matches(['<', '>']).to_string(),
                image,
            });
            rest = &rest[end..];
        }
        for attribute in ["src=\"", "href=\""] {
            let mut rest = line.as_str();
            while let Some(at) = rest.find(attribute) {
                rest = &rest[at + attribute.len()..];
                let Some(end) = rest.find('"') else { break };
                found.push(Link {
                    target: rest[..end].to_string(),
                    image: attribute == "src=\"",
                });
                rest = &rest[end..];
            }
        }
    }
    found
}

fn is_external(target: &str) -> bool {
    target.contains("://") || target.starts_with("mailto:")
}

fn check_link(name: &str, dir: &Path, page: &Path, link: &Link) -> Vec<String> {
    let (file, fragment) = match link.target.split_once('#') {
        Some((file, fragment)) => (file, Some(fragment)),
        None => (link.target.as_str(), None),
    };
    let kind = if link.image { "image" } else { "link" };
    let target = if file.is_empty() {
        page.to_path_buf()
    } else {
        normalize(&dir.join(file))
    };
    // mdBook turns chapter links `x.md` into `x.html`; a link to `x.html` means the chapter too.
    let target = if target.extension().is_some_and(|e| e == "html") {
        target.with_extension("md")
    } else {
        target
    };
    if !target.exists() {
        return vec![format!("{name} has a broken {kind}: {}", link.target)];
    }
    if let Some(fragment) = fragment
        && target.extension().is_some_and(|e| e == "md")
    {
        let text = fs::read_to_string(&target).unwrap_or_default();
        let page = target.file_name().unwrap_or_default().to_string_lossy();
        if !heading_ids(&text).contains(fragment) {
            return vec![format!(
                "{name} links to #{fragment}, a heading {page} does not have"
            )];
        }
        if !explicit_heading_ids(&text).contains(fragment) {
            return vec![format!(
                "{name} links to #{fragment}, a heading of {page} whose id is not written out: \
                 add `{{#{fragment}}}` to the heading, or the Chinese edition's heading gets \
                 another id and the link breaks there"
            )];
        }
    }
    Vec::new()
}

/// The ids mdBook gives the headings of a page: `{#custom}` if given, else the text in lower
/// case, spaces as `-`, and punctuation other than `-` and `_` dropped; repeats get `-1`, `-2`.
fn heading_ids(text: &str) -> HashSet<String> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut ids = HashSet::new();
    for line in prose_lines(text) {
        let trimmed = line.trim_start();
        if !trimmed.starts_with('#') {
            continue;
        }
        let title = trimmed.trim_start_matches('#').trim();
        let id = if let Some(open) = title.rfind("{#")
            && title.ends_with('}')
        {
            title[open + 2..title.len() - 1].to_string()
        } else {
            normalize_id(title)
        };
        let count = seen.entry(id.clone()).or_insert(0);
        if *count == 0 {
            ids.insert(id.clone());
        } else {
            ids.insert(format!("{id}-{count}"));
        }
        *count += 1;
    }
    ids
}

/// The ids written out on the headings of a page (`## Title {#id}`).
fn explicit_heading_ids(text: &str) -> HashSet<String> {
    prose_lines(text)
        .into_iter()
        .filter_map(|line| {
            let title = line.trim_start().strip_prefix('#')?.trim_end();
            let open = title.rfind("{#")?;
            title
                .ends_with('}')
                .then(|| title[open + 2..title.len() - 1].to_string())
        })
        .collect()
}

fn normalize_id(title: &str) -> String {
    // Inline markup is not part of the id: `code` and *emphasis* keep only their text.
    let plain: String = title.chars().filter(|c| !matches!(c, '`' | '*')).collect();
    plain
        .trim()
        .chars()
        .filter_map(|c| {
            if c.is_alphanumeric() || c == '_' || c == '-' {
                Some(c.to_ascii_lowercase())
            } else if c.is_whitespace() {
                Some('-')
            } else {
                None
            }
        })
        .collect::<String>()
        .to_lowercase()
}

/// The lines of a Markdown text that are not inside a fenced code block.
fn prose_lines(text: &str) -> Vec<&str> {
    let mut in_code = false;
    let mut lines = Vec::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if !in_code {
            lines.push(line);
        }
    }
    lines
}

fn strip_inline_code(line: &str) -> String {
    let mut out = String::new();
    for (i, part) in line.split('`').enumerate() {
        if i % 2 == 0 {
            out.push_str(part);
        }
    }
    out
}

/// Every run of [`COPY_WINDOW`] consecutive meaningful lines in the lessons' Rust files.
fn lesson_line_windows(lessons: &Path) -> HashMap<Vec<String>, String> {
    let mut windows = HashMap::new();
    for file in files_with_extension(lessons, "rs") {
        let text = fs::read_to_string(&file).unwrap_or_default();
        let lines = meaningful_lines(text.lines());
        for window in lines.windows(COPY_WINDOW) {
            windows.entry(window.to_vec()).or_insert_with(|| {
                let lesson_root = lessons.parent().unwrap_or(lessons);
                file.strip_prefix(lesson_root)
                    .unwrap_or(&file)
                    .display()
                    .to_string()
            });
        }
    }
    windows
}

/// Code blocks (not made by an include) that share a window of lines with a lesson.
fn copied_blocks(text: &str, lesson_windows: &HashMap<Vec<String>, String>) -> Vec<String> {
    let mut copies = Vec::new();
    let mut block: Option<Vec<&str>> = None;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            match block.take() {
                None => block = Some(Vec::new()),
                Some(lines) => {
                    if lines.iter().any(|l| l.contains("{{#")) {
                        continue;
                    }
                    let lines = meaningful_lines(lines.into_iter());
                    if let Some(from) = lines
                        .windows(COPY_WINDOW)
                        .find_map(|w| lesson_windows.get(w))
                    {
                        copies.push(from.clone());
                    }
                }
            }
        } else if let Some(lines) = block.as_mut() {
            lines.push(line);
        }
    }
    copies
}

/// Lines that carry code: trimmed, without blank lines, comments, or lone braces.
fn meaningful_lines<'a>(lines: impl Iterator<Item = &'a str>) -> Vec<String> {
    lines
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("//") && l.len() > 3)
        .map(str::to_string)
        .collect()
}

/// Every `// ANCHOR: name` in the Rust sources under `lessons/` and `tests/`, with its file.
fn defined_anchors(root: &Path) -> Vec<(PathBuf, String)> {
    let mut found = Vec::new();
    for dir in ["lessons", "tests"] {
        for file in files_with_extension(&root.join(dir), "rs") {
            let text = fs::read_to_string(&file).unwrap_or_default();
            for line in text.lines() {
                if let Some(name) = line.trim_start().strip_prefix("// ANCHOR: ") {
                    found.push((file.clone(), name.trim().to_string()));
                }
            }
        }
    }
    found
}

fn lesson_dirs(lessons: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = fs::read_dir(lessons)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.join("Cargo.toml").is_file())
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    dirs
}

fn markdown_files(src: &Path) -> Vec<PathBuf> {
    files_with_extension(src, "md")
}

fn files_with_extension(dir: &Path, extension: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != "target") {
                    stack.push(path);
                }
            } else if path.extension().is_some_and(|e| e == extension) {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// `a/b/../c` → `a/c`, without touching the file system (the file may not exist).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}
