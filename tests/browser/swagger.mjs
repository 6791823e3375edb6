// Real-browser test of the served Swagger UI: what a person does with /swagger-ui/.
//
// Run through tests/browser/run.sh, which starts the server and passes:
//   BASE_URL       http://127.0.0.1:PORT of a running console-server
//   CONSOLE_TOKEN  a console access token (POST /console/api/login → data.access_token)
//   CONSOLE_EMAIL  the e-mail of that account
//   ADMIN_TOKEN    an admin-surface token of `admin` (POST /api/auth/login → data.token)
//   SCREENSHOT_DIR where the *.png go (default target/browser)
//   CHROMIUM_PATH  default /usr/bin/chromium
//
// The browser reaches the server under a host name (UI_HOST, default console-server.test,
// mapped to 127.0.0.1 inside Chromium), not 127.0.0.1, because that is how people reach a
// deployment and Swagger UI behaves differently on localhost (e.g. the online validator
// badge is hidden there). Any request the page makes to another origin is blocked and fails
// the test: the UI must work offline, and must not send the spec URL to third parties.
//
// Exit status 0 when every check passed, 1 with a "FAIL:" line otherwise.

import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { parse as parseYaml } from "yaml";

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "../..");

const TOTAL_BUDGET_MS = 120_000; // the whole run
const STEP_TIMEOUT_MS = 15_000; // one wait or action

const started = Date.now();
const log = (msg) => console.log(`[browser +${((Date.now() - started) / 1000).toFixed(1)}s] ${msg}`);

class Failure extends Error {}
const fail = (msg) => {
  throw new Failure(msg);
};
const check = (ok, msg) => {
  if (!ok) fail(msg);
};
process.on("uncaughtException", (e) => {
  console.error(`FAIL: ${e instanceof Failure ? e.message : e.stack || e}`);
  process.exit(1);
});

function need(name) {
  const v = process.env[name];
  if (!v) {
    console.error(`FAIL: environment variable ${name} is not set (run this through tests/browser/run.sh)`);
    process.exit(2);
  }
  return v;
}

const BASE_URL = need("BASE_URL").replace(/\/+$/, "");
const CONSOLE_TOKEN = need("CONSOLE_TOKEN");
const CONSOLE_EMAIL = need("CONSOLE_EMAIL");
const ADMIN_TOKEN = need("ADMIN_TOKEN");
const SHOTS = path.resolve(process.env.SCREENSHOT_DIR || path.join(repo, "target/browser"));
const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const UI_HOST = process.env.UI_HOST || "console-server.test";

const base = new URL(BASE_URL);
const ORIGIN = `${base.protocol}//${UI_HOST}:${base.port}`;
fs.mkdirSync(SHOTS, { recursive: true });

// ---- the contract: operations and security schemes of openapi/*.yaml ----------------------

const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

// The spec as the server under test serves it (it embeds openapi/*.yaml when it is built),
// parsed here independently of Swagger UI.
async function loadSpec(file) {
  const url = `${BASE_URL}/openapi/${file}`;
  let text;
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(10_000) });
    check(r.ok, `GET ${url} answered ${r.status}`);
    text = await r.text();
  } catch (e) {
    if (e instanceof Failure) throw e;
    fail(`GET ${url}: ${e.message}`);
  }
  const local = path.join(repo, "openapi", file);
  if (fs.existsSync(local) && fs.readFileSync(local, "utf8") !== text) {
    log(`note: the served ${file} differs from the working tree's (binary built before an edit?); checking against what the server serves`);
  }
  let doc;
  try {
    doc = parseYaml(text);
  } catch (e) {
    fail(`${file} as served is not valid YAML: ${e.message}`);
  }
  const ops = [];
  for (const [p, item] of Object.entries(doc.paths || {})) {
    for (const m of METHODS) {
      const op = item?.[m];
      if (!op) continue;
      check(op.operationId, `${file}: ${m.toUpperCase()} ${p} has no operationId`);
      const security = op.security ?? doc.security ?? [];
      ops.push({ method: m.toUpperCase(), path: p, id: op.operationId, tag: (op.tags || ["default"])[0], security });
    }
  }
  return { file, title: doc.info.title, ops, schemes: doc.components?.securitySchemes || {} };
}

const opById = (spec, id) => spec.ops.find((o) => o.id === id) || fail(`${spec.file} has no operation ${id}`);
// An operation that needs the scheme and nothing else: its lock icon tells whether the
// credential is entered. The admin spec has none: every admin operation also lists `{}` (the
// guest), which Swagger UI counts as satisfied, so all their locks look closed from the start.
const needsOnly = (spec, scheme) =>
  spec.ops.find((o) => o.security.length === 1 && JSON.stringify(Object.keys(o.security[0])) === JSON.stringify([scheme])) || null;

// Markdown as a reader sees it: no emphasis/code markers, one space between words.
const plain = (s) =>
  String(s ?? "")
    .replace(/\*\*|__|`/g, "")
    .replace(/\u2026/g, "...")
    .replace(/\s+/g, " ")
    .trim();

// ---- the browser -------------------------------------------------------------------------

const problems = []; // page asset failures, script errors, console errors, foreign requests
const foreign = new Set(); // blocked requests to other origins
const answered = new Set(); // asset URLs already reported with their HTTP status

function isAsset(url, resourceType) {
  const u = new URL(url);
  if (u.pathname.startsWith("/swagger-ui") || u.pathname.startsWith("/openapi/")) return true;
  return ["document", "stylesheet", "script", "image", "font", "manifest"].includes(resourceType);
}

function watch(page, label) {
  page.on("pageerror", (e) => problems.push(`[${label}] page script error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") {
      const where = m.location()?.url ? ` (at ${m.location().url})` : "";
      problems.push(`[${label}] console error: ${m.text()}${where}`);
    }
  });
  page.on("response", (r) => {
    if (r.status() >= 400 && isAsset(r.url(), r.request().resourceType())) {
      answered.add(r.url());
      problems.push(`[${label}] page asset answered ${r.status()}: ${r.request().method()} ${r.url()}`);
    }
  });
  page.on("requestfailed", (r) => {
    if (isAsset(r.url(), r.resourceType()) && !foreign.has(r.url()) && !answered.has(r.url())) {
      problems.push(`[${label}] page asset failed (${r.failure()?.errorText}): ${r.url()}`);
    }
  });
}

function assertClean(when) {
  if (problems.length) {
    fail(`${when}: the page reported ${problems.length} problem(s):\n  - ${[...new Set(problems)].join("\n  - ")}`);
  }
}

async function shot(page, name, locator) {
  const file = path.join(SHOTS, name);
  // A full page of the console spec is ~10,000 px tall: give it time on a busy machine.
  const opts = { path: file, timeout: 45_000, animations: "disabled", caret: "hide" };
  try {
    if (locator) await locator.screenshot(opts);
    else await page.screenshot({ ...opts, fullPage: name.includes("full") });
  } catch (e) {
    fail(`screenshot ${name}: ${e.message.split("\n")[0]}`);
  }
  log(`screenshot ${path.relative(repo, file)}`);
}

// Polls fn until it returns a truthy value; fails with msg (plus the last value) on timeout.
async function until(fn, msg, timeout = STEP_TIMEOUT_MS) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e.message;
    }
    if (Date.now() > deadline) fail(`${msg} (within ${timeout / 1000}s${last !== undefined && last !== false ? `; last seen: ${String(last).slice(0, 300)}` : ""})`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

// ---- checks -------------------------------------------------------------------------------

async function renderedOps(page) {
  return page.$$eval(".swagger-ui .opblock", (els) =>
    els.map((e) => ({
      domId: e.id,
      method: e.querySelector(".opblock-summary-method")?.textContent.trim(),
      path: e.querySelector("[data-path]")?.getAttribute("data-path"),
      id: e.querySelector(".opblock-summary-operation-id")?.textContent.trim(),
    })),
  );
}

// Waits for the spec's title and operations and checks every operation is rendered once,
// with its method, path and operationId.
async function checkRendered(page, spec) {
  await until(
    async () => (await page.locator(".swagger-ui .info .title").first().textContent({ timeout: 1000 }))?.includes(spec.title),
    `Swagger UI did not show the title "${spec.title}" of ${spec.file} (blank page? spec not loaded?)`,
  );
  const errs = page.locator(".swagger-ui .errors-wrapper");
  if (await errs.count()) fail(`Swagger UI shows errors for ${spec.file}: ${plain(await errs.first().innerText())}`);

  let ops = [];
  await until(async () => {
    ops = await renderedOps(page);
    return ops.length >= spec.ops.length;
  }, `Swagger UI rendered fewer operations than ${spec.file} has (${spec.ops.length})`).catch(() => {});

  const rendered = new Map();
  const dup = [];
  for (const o of ops) {
    if (rendered.has(o.id)) dup.push(o.id);
    rendered.set(o.id, o);
  }
  const missing = spec.ops.filter((o) => !rendered.has(o.id)).map((o) => `${o.method} ${o.path} (${o.id})`);
  const extra = ops.filter((o) => !spec.ops.some((s) => s.id === o.id)).map((o) => `${o.method} ${o.path} (${o.id ?? "no operationId shown"})`);
  const wrong = spec.ops
    .filter((o) => rendered.has(o.id))
    .map((o) => [o, rendered.get(o.id)])
    .filter(([o, r]) => r.method !== o.method || r.path !== o.path || r.domId !== `operations-${o.tag}-${o.id}`)
    .map(([o, r]) => `${o.id}: expected ${o.method} ${o.path} under tag ${o.tag}, shown ${r.method} ${r.path} (#${r.domId})`);
  const bad = [
    missing.length && `missing ${missing.length}: ${missing.join(", ")}`,
    extra.length && `not in ${spec.file}: ${extra.join(", ")}`,
    dup.length && `shown twice: ${dup.join(", ")}`,
    wrong.length && `differs: ${wrong.join("; ")}`,
  ].filter(Boolean);
  check(!bad.length, `${spec.file}: Swagger UI renders ${ops.length} operations, the spec has ${spec.ops.length}; ${bad.join(" | ")}`);
  log(`${spec.file}: all ${spec.ops.length} operations rendered with method, path and operationId`);
}

// The lock icon of an operation that needs a credential: "locked" once it is entered.
async function opLock(page, op) {
  const label = await page.locator(`#operations-${op.tag}-${op.id} .opblock-summary button.authorization__btn`).getAttribute("aria-label");
  return label?.replace(/^authorization button /, "");
}

// Opens the Authorize dialog, checks it explains the scheme, enters the credential,
// authorizes and closes it; op (which needs the scheme) shows its lock open before, closed after.
async function authorize(page, spec, schemeName, token, shotName, explains, op) {
  const scheme = spec.schemes[schemeName] || fail(`${spec.file} has no securityScheme ${schemeName}`);
  if (op) {
    const before = await opLock(page, op);
    check(before === "unlocked", `before authorizing ${schemeName}, ${op.id} shows its lock ${before}, expected unlocked`);
  }
  const topBtn = page.locator(".swagger-ui .scheme-container button.authorize");
  await topBtn.click();
  const modal = page.locator(".swagger-ui .dialog-ux .modal-ux");
  await modal.waitFor({ state: "visible" });

  const section = modal.locator(".auth-container", { has: page.locator(`h4 code:text-is("${schemeName}")`) });
  await until(async () => (await section.count()) === 1, `Authorize dialog has no section for ${schemeName}`);
  const text = plain(await section.innerText());
  const kind = scheme.type === "http" ? `(http, ${scheme.scheme[0].toUpperCase()}${scheme.scheme.slice(1)})` : `(${scheme.type})`;
  check(text.includes(kind), `Authorize dialog for ${schemeName} does not say ${kind}: "${text}"`);
  const desc = plain(scheme.description);
  check(desc, `${spec.file}: securityScheme ${schemeName} has no description; the Authorize dialog tells a person nothing`);
  check(text.includes(desc), `Authorize dialog for ${schemeName} does not show its description.\n  expected: "${desc}"\n  shown:    "${text}"`);
  for (const [re, why] of explains) {
    check(re.test(text), `Authorize dialog for ${schemeName} does not explain ${why} (${re}): "${text}"`);
  }
  if (scheme.type === "apiKey") {
    check(text.includes(`Name: ${scheme.name}`) && text.includes(`In: ${scheme.in}`), `Authorize dialog for ${schemeName} does not show Name/In: "${text}"`);
  }

  const input = section.locator(scheme.type === "apiKey" ? "input#api_key_value" : "input#auth-bearer-value");
  await input.fill(token);
  await section.locator('button.authorize[type="submit"]').click();
  await until(async () => (await section.locator("h6").textContent().catch(() => ""))?.includes("Authorized"), `${schemeName}: the dialog did not say "Authorized" after Authorize`);
  await section.locator('button:text-is("Logout")').waitFor();
  await shot(page, shotName);
  await section.locator("button.btn-done").click();
  await modal.waitFor({ state: "hidden" });
  await until(async () => /\blocked\b/.test(await topBtn.getAttribute("class")), `the Authorize button is not shown locked after authorizing ${schemeName}`);
  if (op) await until(async () => (await opLock(page, op)) === "locked", `after authorizing ${schemeName}, ${op.id} does not show its lock closed`);
  log(`${spec.file}: Authorize dialog explains ${schemeName}; authorized`);
}

// Opens an operation (unless open), Try it out, Execute; returns the request the browser sent
// and the live response's status and body as shown.
async function tryItOut(page, op) {
  const block = page.locator(`#operations-${op.tag}-${op.id}`);
  await block.waitFor();
  if (!(await block.getAttribute("class")).includes("is-open")) {
    await block.locator(".opblock-summary-control").click();
  }
  await block.locator(".opblock-body").waitFor();
  await block.locator("button.try-out__btn").click();
  const execute = block.locator("button.execute");
  await execute.waitFor();
  const sent = page.waitForRequest((r) => new URL(r.url()).pathname === op.path && r.method() === op.method, { timeout: STEP_TIMEOUT_MS });
  await execute.click();
  const req = await sent;
  const live = block.locator(".live-responses-table");
  await live.waitFor().catch(() => fail(`${op.method} ${op.path}: no live response shown after Execute`));
  const row = live.locator("tbody tr.response").first();
  const status = await until(
    async () => (await row.locator("td.response-col_status").innerText()).trim().match(/^\d{3}/)?.[0],
    `${op.method} ${op.path}: the live response shows no status code`,
  );
  const cell = row.locator("td.response-col_description");
  const pre = cell.locator("pre").first(); // the response body (the headers come after it)
  const body = (await pre.count()) ? await pre.innerText() : await cell.innerText();
  const curl = await block.locator(".curl-command").innerText().catch(() => "");
  return { block, req, status, body, curl, authorization: await req.headerValue("authorization") };
}

// ---- the walk -----------------------------------------------------------------------------

async function main() {
  const consoleSpec = await loadSpec("console.yaml");
  const adminSpec = await loadSpec("admin.yaml");
  const PROFILE = opById(consoleSpec, "get_account_profile");
  const ME = opById(adminSpec, "get_me");
  const CONSOLE_LOCKED = needsOnly(consoleSpec, "bearerAuth");
  const ADMIN_LOCKED = needsOnly(adminSpec, "AuthorizationHeader");
  log(`contract: ${consoleSpec.ops.length} console and ${adminSpec.ops.length} admin operations (served specs)`);

  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    timeout: 30_000,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      `--host-resolver-rules=MAP ${UI_HOST} 127.0.0.1`,
    ],
  });
  let page;
  let current; // the tab a failure screenshot should show
  try {
    const context = await browser.newContext({ viewport: { width: 1440, height: 1000 } });
    context.setDefaultTimeout(STEP_TIMEOUT_MS);
    await context.route("**/*", (route) => {
      const url = route.request().url();
      if (new URL(url).origin === ORIGIN) return route.continue();
      foreign.add(url);
      problems.push(`the page requested another origin (blocked): ${route.request().resourceType()} ${url}`);
      return route.abort("blockedbyclient");
    });
    page = current = await context.newPage();
    watch(page, "tab 1");

    // 1. The page, the console spec, every console operation.
    log(`open ${ORIGIN}/swagger-ui/ (${UI_HOST} → 127.0.0.1)`);
    const resp = await page.goto(`${ORIGIN}/swagger-ui/`, { waitUntil: "load" });
    check(resp && resp.status() === 200, `GET /swagger-ui/ answered ${resp?.status()}`);
    assertClean("loading /swagger-ui/ (its scripts and styles)");
    await checkRendered(page, consoleSpec);
    const select = page.locator(".swagger-ui .topbar select#select");
    await select.waitFor().catch(() => fail("no spec selector in the top bar"));
    const options = await select.locator("option").allInnerTexts();
    check(JSON.stringify(options) === JSON.stringify(["console", "admin"]), `top-bar spec selector offers ${JSON.stringify(options)}, expected ["console","admin"]`);
    check((await select.locator("option:checked").innerText()) === "console", "the top bar does not show \"console\" selected first");
    check(await page.locator(".swagger-ui .operation-filter-input").isVisible(), "the filter box (filter: true) is not shown");
    await page.waitForLoadState("networkidle").catch(() => {});
    assertClean("loading /swagger-ui/");
    await shot(page, "01-console-full.png");

    // 2. Authorize with the console access token.
    await authorize(page, consoleSpec, "bearerAuth", CONSOLE_TOKEN, "02-console-authorize.png", [
      [/access[ _]token/i, "that it takes an access token"],
      [/login/i, "where the token comes from"],
    ], CONSOLE_LOCKED);
    assertClean("authorizing on the console spec");

    // 3. GET /console/api/account/profile: Try it out, Execute, 200 with the account's e-mail.
    let r = await tryItOut(page, PROFILE);
    check(r.authorization === `Bearer ${CONSOLE_TOKEN}`, `Execute sent Authorization ${JSON.stringify(r.authorization)}, expected "Bearer <the access token>"`);
    check(r.status === "200", `${PROFILE.method} ${PROFILE.path} shows status ${r.status}; body: ${r.body.slice(0, 300)}`);
    check(r.body.includes(CONSOLE_EMAIL), `${PROFILE.method} ${PROFILE.path}: the response does not show ${CONSOLE_EMAIL}: ${r.body.slice(0, 300)}`);
    check(r.curl.includes("Authorization: Bearer "), `the curl line does not show the Bearer header: ${r.curl}`);
    await shot(page, "03-console-profile.png", r.block);
    const deepLink = page.url();
    check(new URL(deepLink).hash === `#/${PROFILE.tag}/${PROFILE.id}`, `opening the operation did not put its deep link in the address bar: ${deepLink}`);
    assertClean("Execute on the console spec");
    log(`${PROFILE.method} ${PROFILE.path}: 200 with ${CONSOLE_EMAIL}`);

    // 4. Reload: the authorization persisted (persistAuthorization).
    await page.reload({ waitUntil: "load" });
    await checkRendered(page, consoleSpec);
    const topBtn = page.locator(".swagger-ui .scheme-container button.authorize");
    await until(async () => /\blocked\b/.test(await topBtn.getAttribute("class")), "after a reload the Authorize button is not locked: the authorization did not persist");
    check(!CONSOLE_LOCKED || (await opLock(page, CONSOLE_LOCKED)) === "locked", `after a reload ${CONSOLE_LOCKED.id} shows its lock open: the authorization did not persist`);
    await topBtn.click();
    const modal = page.locator(".swagger-ui .dialog-ux .modal-ux");
    await until(async () => (await modal.innerText()).includes("Authorized"), "after a reload the Authorize dialog does not show bearerAuth as Authorized");
    await shot(page, "04-console-after-reload.png");
    await modal.locator("button.btn-done").click();
    await modal.waitFor({ state: "hidden" });
    assertClean("reloading");
    log("after a reload the authorization is still there");

    // 5. The deep link in a new tab opens that operation, and Execute works with the persisted token.
    const tab2 = (current = await context.newPage());
    watch(tab2, "tab 2");
    await tab2.goto(deepLink, { waitUntil: "load" });
    await checkRendered(tab2, consoleSpec);
    const linked = tab2.locator(`#operations-${PROFILE.tag}-${PROFILE.id}`);
    await until(async () => (await linked.getAttribute("class")).includes("is-open"), `the deep link ${deepLink} did not open ${PROFILE.id}`);
    await until(
      async () => linked.evaluate((e) => { const b = e.getBoundingClientRect(); return b.top >= -5 && b.top < innerHeight; }),
      `the deep link ${deepLink} did not scroll ${PROFILE.id} into view`,
    );
    const others = await tab2.locator(".swagger-ui .opblock.is-open").count();
    check(others === 1, `the deep link opened ${others} operations, expected only ${PROFILE.id}`);
    await shot(tab2, "05-console-deep-link.png");
    r = await tryItOut(tab2, PROFILE);
    check(r.status === "200" && r.body.includes(CONSOLE_EMAIL), `in a new tab (persisted token) ${PROFILE.path} shows ${r.status}: ${r.body.slice(0, 300)}`);
    await tab2.close();
    current = page;
    assertClean("the deep link");
    log(`deep link ${new URL(deepLink).hash} opens ${PROFILE.id}; Execute in a new tab → 200`);

    // 6. Switch to "admin", authorize with the raw token, GET /api/me → 200, username admin.
    await select.selectOption({ label: "admin" });
    await checkRendered(page, adminSpec);
    check(new URL(page.url()).searchParams.get("urls.primaryName") === "admin", `after choosing "admin" the address bar does not name it: ${page.url()}`);
    await shot(page, "06-admin-full.png");
    await authorize(page, adminSpec, "AuthorizationHeader", ADMIN_TOKEN, "07-admin-authorize.png", [
      [/raw/i, "that the token goes in raw"],
      [/\bno\b.{0,20}\bBearer\b/i, "that there is no Bearer scheme"],
    ], ADMIN_LOCKED);
    r = await tryItOut(page, ME);
    check(r.authorization === ADMIN_TOKEN, `Execute sent Authorization ${JSON.stringify(r.authorization)}, expected the raw admin token (no "Bearer ")`);
    check(r.status === "200", `${ME.method} ${ME.path} shows status ${r.status}; body: ${r.body.slice(0, 300)}`);
    check(/"code":\s*200\b/.test(r.body), `${ME.method} ${ME.path}: HTTP 200 but the AList envelope's code is not 200: ${r.body.slice(0, 300)}`);
    check(/"username":\s*"admin"/.test(r.body), `${ME.method} ${ME.path}: the response does not show username "admin": ${r.body.slice(0, 300)}`);
    await shot(page, "08-admin-me.png", r.block);
    assertClean("Execute on the admin spec");
    log(`${ME.method} ${ME.path}: 200 with username admin`);

    await page.waitForLoadState("networkidle").catch(() => {});
    assertClean("the end");
  } catch (e) {
    if (current && !current.isClosed()) {
      await current.screenshot({ path: path.join(SHOTS, "FAILED.png") }).catch(() => {});
      console.error(`[browser] screenshot of the failure: ${path.relative(repo, path.join(SHOTS, "FAILED.png"))}`);
    }
    throw e;
  } finally {
    await browser.close().catch(() => {});
  }
}

const budget = setTimeout(() => {
  console.error(`FAIL: the browser test did not finish within ${TOTAL_BUDGET_MS / 1000}s`);
  process.exit(1);
}, TOTAL_BUDGET_MS);

main().then(
  () => {
    clearTimeout(budget);
    log("PASS: Swagger UI works for both specs");
  },
  (e) => {
    clearTimeout(budget);
    if (problems.length && !(e instanceof Failure && e.message.includes("problem(s)"))) {
      console.error(`[browser] the page also reported:\n  - ${[...new Set(problems)].join("\n  - ")}`);
    }
    console.error(`FAIL: ${e instanceof Failure ? e.message : e.stack || e}`);
    process.exitCode = 1;
  },
);
