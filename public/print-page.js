// The "print" button on the saved recovery codes page: hidden without JavaScript (the browser's own
// print still works, and the print stylesheet keeps only the codes).
(() => {
  for (const button of document.querySelectorAll('[data-print]')) {
    button.hidden = false;
    button.addEventListener('click', () => window.print());
  }
})();
