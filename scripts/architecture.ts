// The project's import graph and the layout rules it must keep (README, "Where things live";
// docs/decisions/040). Read by scripts/architecture.test.ts; `npx tsx scripts/architecture.ts`
// prints every broken rule. Only the repository's own source is read: package imports are
// left out, type-only imports are kept (a cycle of types is still a knot).
import fs from "node:fs";
import path from "node:path";
import ts from "typescript";

export interface ImportEdge {
  from: string;
  to: string;
  /** `import type …`, or an import whose every name is `type`. */
  typeOnly: boolean;
}

const SOURCE_ROOTS = ["app", "tenants", "widget", "scripts", "tests"];
const SKIPPED = new Set(["node_modules", "build", "dist", ".react-router", "coverage"]);

export function sourceFiles(root: string): string[] {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      if (SKIPPED.has(entry.name)) continue;
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (/\.tsx?$/.test(entry.name) && !entry.name.endsWith(".d.ts")) {
        files.push(path.relative(root, full).split(path.sep).join("/"));
      }
    }
  };
  for (const dir of SOURCE_ROOTS)
    if (fs.existsSync(path.join(root, dir))) walk(path.join(root, dir));
  return files.sort();
}

/** The repository path an import specifier names, or undefined for a package. */
export function resolveSpecifier(from: string, specifier: string): string | undefined {
  let target: string;
  if (specifier.startsWith(".")) target = path.posix.join(path.posix.dirname(from), specifier);
  else if (specifier.startsWith("#app/")) target = `app/${specifier.slice("#app/".length)}`;
  else if (specifier.startsWith("#tenants/")) target = `tenants/${specifier.slice(9)}`;
  else return undefined;
  return path.posix.normalize(target);
}

function isTypeOnly(node: ts.ImportDeclaration | ts.ExportDeclaration): boolean {
  if (ts.isExportDeclaration(node)) {
    if (node.isTypeOnly) return true;
    const clause = node.exportClause;
    return Boolean(
      clause && ts.isNamedExports(clause) && clause.elements.every((e) => e.isTypeOnly),
    );
  }
  const clause = node.importClause;
  if (!clause) return false; // a side-effect import
  if (clause.isTypeOnly) return true;
  if (clause.name) return false;
  const bindings = clause.namedBindings;
  return Boolean(
    bindings &&
    ts.isNamedImports(bindings) &&
    bindings.elements.length > 0 &&
    bindings.elements.every((e) => e.isTypeOnly),
  );
}

/** Every import of one file that names a file of the repository. */
export function importsOf(root: string, file: string): ImportEdge[] {
  const text = fs.readFileSync(path.join(root, file), "utf8");
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false);
  const edges: ImportEdge[] = [];
  const add = (specifier: string, typeOnly: boolean) => {
    const to = resolveSpecifier(file, specifier);
    if (to) edges.push({ from: file, to, typeOnly });
  };
  const visit = (node: ts.Node) => {
    if (
      (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      add(node.moduleSpecifier.text, isTypeOnly(node));
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments[0] &&
      ts.isStringLiteral(node.arguments[0])
    ) {
      add(node.arguments[0].text, false);
    } else if (
      ts.isImportTypeNode(node) &&
      ts.isLiteralTypeNode(node.argument) &&
      ts.isStringLiteral(node.argument.literal)
    ) {
      add(node.argument.literal.text, true);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return edges;
}

export function importGraph(root: string): ImportEdge[] {
  return sourceFiles(root).flatMap((file) => importsOf(root, file));
}

const isTest = (file: string) => /\.test\.tsx?$/.test(file) || file.startsWith("tests/");

/** Import cycles among the product's files (tests and their support left out). */
export function findCycles(edges: readonly ImportEdge[]): string[][] {
  const next = new Map<string, string[]>();
  for (const edge of edges) {
    if (isTest(edge.from) || isTest(edge.to)) continue;
    next.set(edge.from, [...(next.get(edge.from) ?? []), edge.to]);
  }
  // Tarjan's strongly connected components.
  let index = 0;
  const indices = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const connect = (node: string) => {
    indices.set(node, index);
    low.set(node, index);
    index++;
    stack.push(node);
    onStack.add(node);
    for (const to of next.get(node) ?? []) {
      if (!indices.has(to)) {
        connect(to);
        low.set(node, Math.min(low.get(node)!, low.get(to)!));
      } else if (onStack.has(to)) {
        low.set(node, Math.min(low.get(node)!, indices.get(to)!));
      }
    }
    if (low.get(node) === indices.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      const selfLoop = (next.get(node) ?? []).includes(node);
      if (component.length > 1 || selfLoop) cycles.push(component.sort());
    }
  };
  for (const node of next.keys()) if (!indices.has(node)) connect(node);
  return cycles;
}

/** The module that builds the runtime: only entry points may import it. */
export const RUNTIME_BUILDER = "app/server/runtime/build.server.ts";

const SERVER = "app/server/";
const isCore = (file: string) =>
  file.startsWith(SERVER) && !file.slice(SERVER.length).includes("/");
const folderOf = (file: string) => file.slice(SERVER.length).split("/")[0];
const isServerOnly = (file: string) =>
  /\.server\.tsx?$/.test(file) || file.split("/").some((part) => part.endsWith(".server"));
/** Modules that reach the browser: UI routes (those with a component), admin components, root. */
export function isUiModule(file: string): boolean {
  if (file.startsWith("app/admin/") || file === "app/root.tsx") return !isTest(file);
  return file.startsWith("app/routes/") && file.endsWith(".tsx");
}
/** Folders whose modules the browser may load, so UI modules may import their values. */
const BROWSER_SAFE = ["app/shared/", "app/admin/", "app/routes/", "app/root.tsx", "app/nonce.ts"];
const isStylesheet = (file: string) => file.endsWith(".css");

/** Layers that may only import downwards: ask → retrieval → embeddings. */
const LAYERS = ["ask", "retrieval", "embeddings"];

/** The opening words of an SQL statement, looked for in string and template literals. */
const SQL_STATEMENT = /\b(SELECT|INSERT INTO|UPDATE\s+\w+\s+SET|DELETE FROM)\b/;

/**
 * The files under app/ that may hold SQL, and why: tenant data access lives in tenants/
 * (issue 21), so what remains here runs on other databases. Keep it short: control-db SQL
 * belongs in control-db.server.ts unless moving it is more than a small change.
 */
export const SQL_ALLOWED: Readonly<Record<string, string>> = {
  "app/server/control-db.server.ts": "the control database's own module",
  "app/server/access/keys.server.ts":
    "API keys, widget keys and allowed origins: control-db tables (api_keys, tenants, tenant_origins)",
  "app/server/limits/token-bucket.server.ts": "the rate limiter's host-local limits.db",
  "app/server/replication/outbox.server.ts": "a replica's host-local outbox.db",
  "app/server/ingest/parse.server.ts": "no SQL: SELECT is an HTML tag name in a list of them",
};

/** Whether a file's string or template literals hold an SQL statement (comments do not count). */
export function hasSqlLiteral(file: string, text: string): boolean {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false);
  let found = false;
  const visit = (node: ts.Node) => {
    if (found) return;
    if (
      ts.isStringLiteral(node) ||
      ts.isNoSubstitutionTemplateLiteral(node) ||
      ts.isTemplateHead(node) ||
      ts.isTemplateMiddle(node) ||
      ts.isTemplateTail(node)
    ) {
      found = SQL_STATEMENT.test(node.text);
      return;
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** SQL in app/ outside the allowed files, and allowed files that no longer hold any. */
export function sqlViolations(root: string, files = sourceFiles(root)): string[] {
  const problems: string[] = [];
  const present = new Set(files);
  for (const file of files) {
    if (!file.startsWith("app/") || isTest(file) || file in SQL_ALLOWED) continue;
    if (hasSqlLiteral(file, fs.readFileSync(path.join(root, file), "utf8"))) {
      problems.push(`SQL in app/ (tenant data access lives in tenants/): ${file}`);
    }
  }
  for (const file of Object.keys(SQL_ALLOWED)) {
    if (
      !present.has(file) ||
      !hasSqlLiteral(file, fs.readFileSync(path.join(root, file), "utf8"))
    ) {
      problems.push(`allowed to hold SQL but holds none (drop it from SQL_ALLOWED): ${file}`);
    }
  }
  return problems;
}

/** Every broken layout rule, one line each (empty when the layout holds). */
export function layoutViolations(root: string, edges = importGraph(root)): string[] {
  const problems: string[] = sqlViolations(root);
  for (const cycle of findCycles(edges)) problems.push(`import cycle: ${cycle.join(" → ")}`);
  for (const { from, to, typeOnly } of edges) {
    if (isTest(from)) continue;
    if (isCore(from) && to.startsWith(SERVER) && !isCore(to)) {
      problems.push(`core file imports a folder: ${from} → ${to}`);
    }
    if (from.startsWith(SERVER) && to === RUNTIME_BUILDER && from !== RUNTIME_BUILDER) {
      problems.push(`server module imports the runtime's builder: ${from}`);
    }
    // Benchmarks and the eval may drive the test harness (the fake LLM, the server starter).
    if (to.startsWith("tests/") && !from.startsWith("scripts/")) {
      problems.push(`product code imports tests: ${from} → ${to}`);
    }
    if (from.startsWith(SERVER) && to.startsWith("app/") && !to.startsWith(SERVER)) {
      if (!to.startsWith("app/shared/")) problems.push(`server imports UI code: ${from} → ${to}`);
    }
    if (from.startsWith(SERVER) && to.startsWith("widget/")) {
      problems.push(`server imports the widget's code: ${from} → ${to}`);
    }
    if (!typeOnly && isUiModule(from) && !isServerOnly(to)) {
      if (!isStylesheet(to) && !BROWSER_SAFE.some((prefix) => to.startsWith(prefix))) {
        problems.push(
          `UI module imports a value from a module that is not .server: ${from} → ${to}`,
        );
      }
    }
    if (from.startsWith(SERVER) && to.startsWith(SERVER)) {
      const [a, b] = [LAYERS.indexOf(folderOf(from)!), LAYERS.indexOf(folderOf(to)!)];
      if (a >= 0 && b >= 0 && b < a) problems.push(`layer imports upwards: ${from} → ${to}`);
    }
  }
  return [...new Set(problems)];
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  const problems = layoutViolations(process.cwd());
  for (const problem of problems) console.log(problem);
  console.log(`${problems.length} layout problem(s)`);
  process.exitCode = problems.length > 0 ? 1 : 0;
}
