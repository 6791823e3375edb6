// A typed walk through both surfaces with openapi-fetch and the generated types.
//
//   npm run build:example && node out/example/main.js [--base-url URL] \
//     [--email E --password P] [--admin-user U --admin-password P]
//
// (check.sh does that against a fresh server.)
//
// Flags fall back to BASE_URL, CONSOLE_EMAIL, CONSOLE_PASSWORD, ADMIN_USERNAME and
// ADMIN_PASSWORD. Exits 1 as soon as a call does not answer what it should.
import { parseArgs } from "node:util";
import createClient, { type Middleware } from "openapi-fetch";
import type { components as ConsoleComponents, paths as ConsolePaths } from "../console.js";
import type { components as AdminComponents, paths as AdminPaths } from "../admin.js";

type ConsoleError = ConsoleComponents["schemas"]["ErrorResponse"];
type AccountEx = ConsoleComponents["schemas"]["AccountEx"];
type Me = AdminComponents["schemas"]["Me"];

const { values: opts } = parseArgs({
  options: {
    "base-url": { type: "string", default: process.env.BASE_URL ?? "http://127.0.0.1:5001" },
    email: { type: "string", default: process.env.CONSOLE_EMAIL ?? "" },
    password: { type: "string", default: process.env.CONSOLE_PASSWORD ?? "" },
    "admin-user": { type: "string", default: process.env.ADMIN_USERNAME ?? "admin" },
    "admin-password": { type: "string", default: process.env.ADMIN_PASSWORD ?? "" },
  },
});
const baseUrl = opts["base-url"];

class CallFailed extends Error {}

function check(ok: boolean, what: string): asserts ok {
  if (!ok) throw new CallFailed(what);
}

// Console errors: the HTTP status is the real one and the body is {code, message, status}.
function consoleFailure(what: string, error: ConsoleError, response: Response): CallFailed {
  return new CallFailed(`${what}: HTTP ${response.status} ${error.code}: ${error.message}`);
}

// Admin answers are HTTP 200 with {code, message, data}; `code` is the real status and
// `data` is null unless `code` is 200. Anything but HTTP 200 (a proxy, a 404 route) is an
// error too.
type AdminEnvelope<T> = { code: number; message: string; data: T | null };
function adminData<T>(what: string, r: { data?: AdminEnvelope<T>; response: Response }): T {
  if (!r.response.ok || r.data === undefined) {
    throw new CallFailed(`${what}: HTTP ${r.response.status}`);
  }
  const { code, message, data } = r.data;
  if (code !== 200 || data === null) throw new CallFailed(`${what}: code ${code}: ${message}`);
  return data;
}

async function consoleSurface(): Promise<void> {
  const api = createClient<ConsolePaths>({ baseUrl });

  // An error on purpose: no token. `error` is typed as the documented ErrorResponse.
  const anonymous = await api.GET("/console/api/account/profile");
  check(anonymous.error?.code === "unauthorized" && anonymous.response.status === 401,
    `profile without a token should be 401 unauthorized, got HTTP ${anonymous.response.status}`);

  const login = await api.POST("/console/api/login", {
    body: { email: opts.email, password: opts.password },
  });
  if (login.error) throw consoleFailure("login", login.error, login.response);
  const { access_token } = login.data.data;

  // Console auth: `Authorization: Bearer <access_token>` on every later call.
  const bearer: Middleware = {
    onRequest({ request }) {
      request.headers.set("Authorization", `Bearer ${access_token}`);
    },
  };
  api.use(bearer);

  const profile = await api.GET("/console/api/account/profile");
  if (profile.error) throw consoleFailure("profile", profile.error, profile.response);
  check(profile.data.email === opts.email.toLowerCase(), `profile is ${profile.data.email}`);
  console.log(`console: signed in as ${profile.data.name} <${profile.data.email}>`);

  const group = await api.GET("/console/api/enterprise-groups/current");
  if (group.error) throw consoleFailure("current group", group.error, group.response);
  console.log(`console: current group ${group.data.name} (${group.data.id}), role ${group.data.group_role}`);

  // Pages are {page, limit, total, has_more, data}; follow has_more.
  const members: AccountEx[] = [];
  for (let page = 1; ; page++) {
    const r = await api.GET("/console/api/enterprise-groups/{group_id}/members", {
      params: { path: { group_id: group.data.id }, query: { page, limit: 2 } },
    });
    if (r.error) throw consoleFailure(`members page ${page}`, r.error, r.response);
    members.push(...r.data.data);
    if (!r.data.has_more) {
      check(members.length === r.data.total, `${members.length} members read, total ${r.data.total}`);
      break;
    }
  }
  const me = members.find((m) => m.id === profile.data.id);
  check(me !== undefined, "the signed-in account is not among the group's members");
  console.log(`console: ${members.length} member(s); mine: ${me.status}, group role ${me.group_role ?? "none"}`);
}

async function adminSurface(): Promise<void> {
  const api = createClient<AdminPaths>({ baseUrl });

  const login = await api.POST("/api/auth/login", {
    body: { username: opts["admin-user"], password: opts["admin-password"] },
  });
  const { token } = adminData("admin login", login);

  // Admin auth: the raw token as the whole Authorization header, no "Bearer".
  const me: Me = adminData("me", await api.GET("/api/me", { headers: { Authorization: token } }));
  check(me.username === opts["admin-user"], `me is ${me.username}`);
  console.log(`admin: signed in as ${me.username} (id ${me.id}, role ${me.role}, 2FA ${me.otp})`);

  // An error on purpose: HTTP 200, and the failure is only in `code`.
  const bad = await api.GET("/api/me", { headers: { Authorization: "not-a-token" } });
  check(bad.response.status === 200 && bad.data?.code === 401 && bad.data.data === null,
    `a bad token should give HTTP 200 with code 401, got HTTP ${bad.response.status} code ${bad.data?.code}`);
}

try {
  check(opts.email !== "" && opts.password !== "", "console credentials missing (--email/--password)");
  check(opts["admin-password"] !== "", "admin password missing (--admin-password or ADMIN_PASSWORD)");
  await consoleSurface();
  await adminSurface();
  console.log("example: every call answered as expected");
} catch (err) {
  // fetch() itself throws (TypeError "fetch failed", the reason in `cause`) when the server
  // cannot be reached at all.
  const cause = err instanceof Error && err.cause !== undefined ? ` (${String(err.cause)})` : "";
  console.error(`example failed: ${err instanceof Error ? err.message : String(err)}${cause}`);
  process.exitCode = 1;
}
