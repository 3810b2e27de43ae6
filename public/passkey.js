// Passkeys (WebAuthn) through @simplewebauthn/browser (served from this site). Signing in: the
// button, and where the browser supports it the passkey offered in the identifier field
// (conditional mediation). On /conta: adding a named passkey. Every text comes from the page.
(() => {
  const lib = window.SimpleWebAuthnBrowser;
  if (!lib || !lib.browserSupportsWebAuthn()) return;

  async function post(url, body, csrf) {
    const response = await fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ ...body, _csrf: csrf }),
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = new Error(typeof data.message === 'string' ? data.message : '');
      error.shown = Boolean(data.message);
      throw error;
    }
    return data;
  }

  const signIn = document.getElementById('passkey-button');
  if (signIn) {
    const status = document.getElementById('passkey-status');
    const { options, verify, csrf, autofill, failed, wait } = signIn.dataset;
    const run = async (useBrowserAutofill) => {
      const optionsJSON = await post(options, {}, csrf);
      const response = await lib.startAuthentication({ optionsJSON, useBrowserAutofill });
      status.textContent = wait;
      const done = await post(verify, { response }, csrf);
      window.location.assign(done.redirect);
    };
    const fail = (error) => {
      // A request the next one replaced (the button after the autofill) is not a failure.
      if (error && error.name === 'AbortError') return;
      status.textContent = error && error.shown ? error.message : failed;
    };
    signIn.hidden = false;
    signIn.addEventListener('click', () => run(false).catch(fail));
    if (autofill === '1') {
      lib.browserSupportsWebAuthnAutofill().then((yes) => yes && run(true).catch(fail));
    }
  }

  const add = document.getElementById('passkey-add');
  if (add) {
    const status = document.getElementById('passkey-add-status');
    const { options, verify, csrf, failed } = add.dataset;
    add.hidden = false;
    add.addEventListener('submit', (event) => {
      event.preventDefault();
      const name = add.querySelector('input[name="name"]').value;
      (async () => {
        const optionsJSON = await post(options, { name }, csrf);
        const response = await lib.startRegistration({ optionsJSON });
        const done = await post(verify, { name, response }, csrf);
        window.location.assign(done.redirect);
      })().catch((error) => {
        status.textContent = error && error.shown ? error.message : failed;
      });
    });
  }
})();
