// Render the math that pymdownx.arithmatex marks (class "arithmatex") with KaTeX.
document.addEventListener("DOMContentLoaded", () => {
  for (const el of document.querySelectorAll(".arithmatex")) {
    renderMathInElement(el, {
      delimiters: [
        { left: "\\[", right: "\\]", display: true },
        { left: "\\(", right: "\\)", display: false },
      ],
      throwOnError: false,
    });
  }
});
