const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * The dashboard's login form, served at `/` to a browser without a session (admin-auth.ts). It
 * posts the admin token to `/login`, with the hash route the user opened (`#/apps/…`) so the
 * redirect lands there. Self-contained: no script or style the visitor would need a session for.
 */
export function loginPage(message?: string): string {
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Tributary · log in</title>
  <link rel="icon" href="data:,">
  <style>
    body { font: 15px system-ui, sans-serif; background: #f5f6f8; color: #1d2330; display: grid; place-items: center; min-height: 90vh; margin: 0; }
    form { background: #fff; padding: 24px 28px; border-radius: 8px; box-shadow: 0 1px 4px #0002; width: min(420px, 90vw); }
    h1 { font-size: 18px; margin: 0 0 12px; }
    input[type=password] { width: 100%; box-sizing: border-box; padding: 8px; margin: 8px 0 12px; font: inherit; }
    button { padding: 8px 16px; font: inherit; }
    .error { color: #b3261e; }
    small { color: #667; display: block; margin-top: 12px; }
  </style>
</head>
<body>
  <form method="post" action="/login" data-testid="login-form">
    <h1>Tributary</h1>
    ${message ? `<p class="error" data-testid="login-error">${escape(message)}</p>` : ''}
    <label for="token">Admin token</label>
    <input type="password" id="token" name="token" autocomplete="current-password" required autofocus>
    <input type="hidden" name="next" id="next">
    <button type="submit">Log in</button>
    <small>The master printed a token at its first start (“admin token created”); <code>tributary tokens create</code> makes more.</small>
  </form>
  <script>document.getElementById('next').value = location.hash;</script>
</body>
</html>
`;
}
