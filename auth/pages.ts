/**
 * The authorization server's HTML pages (login, patient picker, consent, errors), styled with the
 * nhsuk-frontend compiled CSS served at /auth/assets/. Every value that a user, a client
 * registration or a request can influence goes through `esc`; pages carry no script.
 */

export function esc(value: unknown): string {
  return String(value ?? '').replace(/[&<>"'`=]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A tagged template whose interpolations are escaped unless wrapped in `raw`. */
class Raw { constructor(readonly html: string) {} }
export const raw = (html: string) => new Raw(html);
export function html(strings: TemplateStringsArray, ...values: unknown[]): Raw {
  let out = strings[0];
  values.forEach((v, i) => {
    const part = Array.isArray(v) ? v.map((x) => (x instanceof Raw ? x.html : esc(x))).join('') : v instanceof Raw ? v.html : esc(v);
    out += part + strings[i + 1];
  });
  return new Raw(out);
}

export interface PageContext {
  /** Base path of the authorization server (e.g. /auth): assets and form actions hang off it. */
  base: string;
}

function layout(ctx: PageContext, title: string, body: Raw): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${esc(title)} – vertebra</title>
<link rel="stylesheet" href="${esc(ctx.base)}/assets/nhsuk-frontend.min.css">
</head>
<body>
<header class="nhsuk-header" role="banner"><div class="nhsuk-header__container nhsuk-width-container">
<span class="nhsuk-header__service-name">vertebra sign in</span></div></header>
<div class="nhsuk-width-container"><main class="nhsuk-main-wrapper" id="maincontent" role="main">
<div class="nhsuk-grid-row"><div class="nhsuk-grid-column-two-thirds">
${body.html}
</div></div></main></div>
</body>
</html>
`;
}

const hidden = (csrf: string, rid: string) => html`<input type="hidden" name="csrf_token" value="${csrf}"><input type="hidden" name="rid" value="${rid}">`;

export interface LoginOptions {
  csrf: string;
  rid: string;
  clientName: string;
  /** Offer the username + password form (passport-local). */
  local: boolean;
  /** Offer "Sign in with <idp>" (the configured OpenID Connect IdP). */
  idp?: string;
  error?: string;
  username?: string;
}

export function loginPage(ctx: PageContext, o: LoginOptions): string {
  const error = o.error ? html`<div class="nhsuk-error-summary" role="alert" tabindex="-1"><h2 class="nhsuk-error-summary__title">There is a problem</h2><div class="nhsuk-error-summary__body"><p>${o.error}</p></div></div>` : raw('');
  const idp = o.idp ? html`<form method="post" action="${ctx.base}/oidc/start">
${hidden(o.csrf, o.rid)}
<button class="nhsuk-button" data-module="nhsuk-button" type="submit">Sign in with ${o.idp}</button>
</form>` : raw('');
  const local = o.local ? html`${o.idp ? html`<p class="nhsuk-body">Or sign in with a username and password.</p>` : raw('')}
<form method="post" action="${ctx.base}/login" novalidate>
${hidden(o.csrf, o.rid)}
<div class="nhsuk-form-group"><label class="nhsuk-label" for="username">Username</label>
<input class="nhsuk-input" id="username" name="username" type="text" autocomplete="username" spellcheck="false" value="${o.username ?? ''}"></div>
<div class="nhsuk-form-group"><label class="nhsuk-label" for="password">Password</label>
<input class="nhsuk-input" id="password" name="password" type="password" autocomplete="current-password"></div>
<button class="nhsuk-button${o.idp ? ' nhsuk-button--secondary' : ''}" data-module="nhsuk-button" type="submit">Sign in</button>
</form>` : raw('');
  return layout(ctx, 'Sign in', html`
${error}
<h1 class="nhsuk-heading-l">Sign in</h1>
<p class="nhsuk-body">Sign in to allow <strong>${o.clientName}</strong> to use the clinical record.</p>
${idp}
${local}`);
}

/** CIS2-style role selection: the user's national RBAC role profiles, one to pick for this session. */
export function rolePickerPage(ctx: PageContext, o: { csrf: string; rid: string; user: string; roles: { id: string; label: string }[]; error?: string }): string {
  const error = o.error ? html`<div class="nhsuk-error-summary" role="alert"><h2 class="nhsuk-error-summary__title">There is a problem</h2><div class="nhsuk-error-summary__body"><p>${o.error}</p></div></div>` : raw('');
  return layout(ctx, 'Select your role', html`
${error}
<h1 class="nhsuk-heading-l">Select your role</h1>
<p class="nhsuk-body">Signed in as <strong>${o.user}</strong>. You have more than one role: choose the one you are working in now.</p>
<form method="post" action="${ctx.base}/oidc/role" novalidate>
${hidden(o.csrf, o.rid)}
<fieldset class="nhsuk-fieldset"><legend class="nhsuk-fieldset__legend nhsuk-fieldset__legend--m">Your roles</legend>
<div class="nhsuk-radios">${o.roles.map((r, i) => html`<div class="nhsuk-radios__item"><input class="nhsuk-radios__input" id="role-${i}" name="role" type="radio" value="${r.id}"><label class="nhsuk-label nhsuk-radios__label" for="role-${i}">${r.label}</label></div>`)}</div></fieldset>
<button class="nhsuk-button" type="submit">Continue</button>
</form>`);
}

export function patientPickerPage(ctx: PageContext, o: { csrf: string; rid: string; clientName: string; patients?: { id: string; label: string }[]; error?: string }): string {
  const error = o.error ? html`<div class="nhsuk-error-summary" role="alert"><h2 class="nhsuk-error-summary__title">There is a problem</h2><div class="nhsuk-error-summary__body"><p>${o.error}</p></div></div>` : raw('');
  const choice = o.patients
    ? html`<fieldset class="nhsuk-fieldset"><legend class="nhsuk-fieldset__legend nhsuk-fieldset__legend--m">Patients you may open</legend>
<div class="nhsuk-radios">${o.patients.map((p, i) => html`<div class="nhsuk-radios__item"><input class="nhsuk-radios__input" id="patient-${i}" name="patient" type="radio" value="${p.id}"><label class="nhsuk-label nhsuk-radios__label" for="patient-${i}">${p.label}</label></div>`)}</div></fieldset>`
    : html`<div class="nhsuk-form-group"><label class="nhsuk-label" for="nhs_number">NHS number</label>
<div class="nhsuk-hint" id="nhs_number-hint">10 digits, for example 999 123 4560</div>
<input class="nhsuk-input nhsuk-input--width-10" id="nhs_number" name="nhs_number" type="text" inputmode="numeric" aria-describedby="nhs_number-hint"></div>`;
  return layout(ctx, 'Choose a patient', html`
${error}
<h1 class="nhsuk-heading-l">Choose a patient</h1>
<p class="nhsuk-body"><strong>${o.clientName}</strong> asks to open one patient's record.</p>
<form method="post" action="${ctx.base}/patient" novalidate>
${hidden(o.csrf, o.rid)}
${choice}
<button class="nhsuk-button" type="submit">Continue</button>
</form>`);
}

export function consentPage(ctx: PageContext, o: { csrf: string; rid: string; clientName: string; user: string; scopes: { scope: string; text: string }[]; patient?: string }): string {
  return layout(ctx, 'Allow access', html`
<h1 class="nhsuk-heading-l">Allow ${o.clientName} to access the record?</h1>
<p class="nhsuk-body">Signed in as <strong>${o.user}</strong>.${o.patient ? html` Patient: <strong>${o.patient}</strong>.` : raw('')}</p>
<p class="nhsuk-body">The application asks to:</p>
<ul class="nhsuk-list nhsuk-list--bullet">${o.scopes.map((s) => html`<li>${s.text} <code>${s.scope}</code></li>`)}</ul>
<form method="post" action="${ctx.base}/consent">
${hidden(o.csrf, o.rid)}
<div class="nhsuk-button-group">
<button class="nhsuk-button" type="submit" name="decision" value="allow">Allow</button>
<button class="nhsuk-button nhsuk-button--secondary" type="submit" name="decision" value="deny">Deny</button>
</div>
</form>`);
}

export function messagePage(ctx: PageContext, title: string, message: string): string {
  return layout(ctx, title, html`<h1 class="nhsuk-heading-l">${title}</h1><p class="nhsuk-body">${message}</p>`);
}

/** A plain-language line for a granted scope on the consent page. */
export function describeScope(scope: string): string {
  switch (scope) {
    case 'openid': return 'Confirm who you are';
    case 'fhirUser': return 'Know your staff record';
    case 'profile': return 'Know your name';
    case 'launch': return 'Open with the context your system gives it';
    case 'launch/patient': return 'Know which patient you chose';
    case 'launch/encounter': return 'Know which encounter you chose';
    case 'offline_access': return 'Keep access after you sign out';
    case 'online_access': return 'Keep access while you are signed in';
  }
  const m = /^(patient|user)\/([^.]+)\.(.+)$/.exec(scope);
  if (!m) return 'Other access';
  const who = m[1] === 'patient' ? "this patient's" : 'any patient\'s';
  const type = m[2] === '*' ? 'records of every kind' : `${m[2]} records`;
  const perms = m[3].split('?')[0];
  const verbs = perms === 'read' ? 'Read' : perms === 'write' ? 'Change' : perms === '*' ? 'Read and change'
    : [perms.includes('c') && 'create', perms.includes('r') && 'read', perms.includes('u') && 'update', perms.includes('d') && 'delete', perms.includes('s') && 'search']
      .filter(Boolean).join(', ').replace(/^./, (c) => c.toUpperCase());
  return `${verbs} ${who} ${type}`;
}
