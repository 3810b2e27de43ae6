// A link from a recovery mail carries its code (or a "this was not me" token) in the fragment,
// which the browser never sends to the server: this puts it in the form and clears the address bar.
// Also on hashchange: the link may be opened in the tab already showing the page.
(() => {
  const fill = () => {
    const params = new URLSearchParams(location.hash.slice(1));
    for (const [key, name] of [
      ['codigo', 'code'],
      ['t', 'token'],
    ]) {
      const value = params.get(key);
      const input = document.getElementById(name);
      if (value && input) input.value = value;
    }
    if (location.hash) history.replaceState(null, '', location.pathname + location.search);
  };
  fill();
  window.addEventListener('hashchange', fill);
})();
