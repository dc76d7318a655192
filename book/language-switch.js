// A link on every page to the same page in the other edition of the book. The English book is
// built into book/book/ and the Chinese one into book/book/zh-CN/ (see README.md), so the other
// edition is always at the same relative place: this works offline, from file:// too.
(function () {
  "use strict";
  const chinese = document.documentElement.lang === "zh-CN";
  // mdBook declares path_to_root on every page: the way from this page to the book's root
  // ("" on a page at the root, which must still resolve to the folder, not to the page).
  const up = typeof path_to_root === "string" && path_to_root !== "" ? path_to_root : "./";
  const root = new URL(up, window.location.href);
  const page = window.location.href.slice(root.href.length) || "index.html";
  const other = new URL((chinese ? "../" : "zh-CN/") + page, root);
  const link = document.createElement("a");
  link.href = other.href;
  link.className = "language-switch";
  link.textContent = chinese ? "English" : "中文";
  link.lang = chinese ? "en" : "zh-CN";
  link.title = chinese ? "This page in English" : "本页的中文版";
  link.setAttribute("aria-label", link.title);
  const buttons = document.querySelector(".right-buttons");
  if (buttons) {
    buttons.prepend(link);
  }
})();
