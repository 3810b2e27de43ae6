// A page whose only purpose is to post a form on (a code back to a service, a logout the service
// asked for): posted at once. Without JavaScript the person presses its one button.
(() => {
  const form = document.querySelector('form[data-auto-submit]');
  if (form) form.submit();
})();
