// Strength hint while typing. The server decides; this only helps the person choose.
(() => {
  const input = document.getElementById('password');
  const out = document.getElementById('password-strength');
  if (!input || !out) return;
  const labels = (out.dataset.labels || '').split('|');
  const context = () =>
    ['cpf', 'name', 'birthdate', 'email']
      .map((id) => document.getElementById(id))
      .filter(Boolean)
      .map((el) => el.value);
  let timer;
  let seq = 0;
  input.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const mine = ++seq;
      if (!input.value) {
        out.textContent = '';
        return;
      }
      try {
        const res = await fetch('/password-strength', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ password: input.value, context: context() }),
          credentials: 'same-origin',
        });
        if (!res.ok || mine !== seq) return;
        const { score } = await res.json();
        out.textContent = labels[score] || '';
      } catch {
        out.textContent = '';
      }
    }, 250);
  });
})();
