// The pull-request preview of production, without credentials. A pull request's code is not trusted
// with production's secrets, and every `pulumi preview` of the production stack needs them (see
// docs/runbook.md, "Deploy from CI"). So this runs the program of two checkouts, the base branch and
// the pull request, under the unit tests' Pulumi mocks with each one's committed Pulumi.production.yaml
// (secrets replaced by placeholders); the pull request's run reads the base's outputs as the previous
// update, so its Plan line and safety rules judge the change against what main deploys. Prints, as
// Markdown for the job summary, the Plan line (or the refusal), the live pool and the nginx lines that
// change. Exits 1 when the program refuses the pull request's config.
// Usage: offline-preview.ts <base checkout> <pull request checkout>
import * as fs from "node:fs";
import * as path from "node:path";
import { load } from "js-yaml";
import { ProgramRefused, type RecordedResource, info, runProgram } from "../../test/support/mocks";

const STACK = "production";
const PROJECT = "bluegreen";

/** Stand-ins for secrets, each in the shape its key's validation asks for. */
const PLACEHOLDER_KEY = "-----BEGIN PRIVATE KEY-----\nb2ZmbGluZS1wcmV2aWV3\n-----END PRIVATE KEY-----\n";
const PLACEHOLDER_TOKEN = "offline-preview-placeholder";
const PLACEHOLDERS: Record<string, string> = {
    drainToken: PLACEHOLDER_TOKEN,
    sshPrivateKey: PLACEHOLDER_KEY,
    tlsKey: PLACEHOLDER_KEY,
    tlsCertificate: "-----BEGIN CERTIFICATE-----\nb2ZmbGluZS1wcmV2aWV3\n-----END CERTIFICATE-----\n",
};

/** The engine's marker of a secret value in mocked inputs. */
const SECRET_SIG = "4dabf18193072939515e22adb298388d";

/** A stack's committed config in a checkout, keys without the project prefix, values as the engine passes them. */
export function stackConfig(dir: string, stack = STACK): Record<string, string> {
    const parsed = load(fs.readFileSync(path.join(dir, `Pulumi.${stack}.yaml`), "utf8")) as {
        config?: Record<string, unknown>;
    } | null;
    const config: Record<string, string> = {};
    for (const [key, value] of Object.entries(parsed?.config ?? {})) {
        // Provider settings (aws:region) reach no provider under mocks.
        if (!key.startsWith(`${PROJECT}:`)) continue;
        const name = key.slice(PROJECT.length + 1);
        const secure = typeof value === "object" && value !== null && "secure" in value;
        // Structured values reach the program as JSON text, as the engine passes them.
        config[name] = secure
            ? (PLACEHOLDERS[name] ?? PLACEHOLDER_TOKEN)
            : typeof value === "string"
              ? value
              : JSON.stringify(value);
    }
    // Required secrets may be set only in the stack the operator holds, never committed.
    config.drainToken ??= PLACEHOLDER_TOKEN;
    if ((config.target ?? "local") !== "local") config.sshPrivateKey ??= PLACEHOLDER_KEY;
    return config;
}

export interface Rendered {
    readonly nginxConf: string;
    readonly liveColor: string;
    readonly plan?: string;
    /** What the run exports: the previous update's outputs for the next run. */
    readonly outputs: Record<string, unknown>;
    /** Every resource the program registered, as "name (type)". */
    readonly resources: readonly string[];
}

/** A mocked input without its secret wrapper. */
function plain(value: unknown): unknown {
    return typeof value === "object" && value !== null && SECRET_SIG in value && "value" in value ? value.value : value;
}

/** One run of the program in `dir` under mocks; a refusal rejects with ProgramRefused. */
export async function render(
    dir: string,
    config: Record<string, string>,
    previousOutputs?: Record<string, unknown>,
): Promise<Rendered> {
    const { resources, outputs } = await runProgram(config, {
        program: path.resolve(dir, "index.ts"),
        stack: STACK,
        previousOutputs,
    });
    const plan = info.find((line) => line.startsWith("Plan:"));
    // The router's switch (the first router's, where there are several: every router has the same config).
    const router: RecordedResource | undefined = resources.find((r) => /^router-nginx(-[^-].*)?$/.test(r.name));
    const environment = plain(router?.inputs.environment) as Record<string, unknown> | undefined;
    const nginxConf = plain(environment?.BLUEGREEN_NGINX_CONF);
    if (typeof nginxConf !== "string") throw new Error(`${dir}: no router-nginx command carrying NGINX_CONF`);
    const registered = resources.map((r) => `${r.name} (${r.type})`);
    return { nginxConf, liveColor: String(outputs.activeColor), plan, outputs, resources: registered };
}

/** The lines that differ between two texts, `context` unchanged lines around each change, "..." between. */
export function lineDiff(before: string, after: string, context = 2): string[] {
    const a = before === "" ? [] : before.split("\n");
    const b = after === "" ? [] : after.split("\n");
    // Longest common subsequence from the end: common[i][j] is the one of a[i..] and b[j..].
    const common = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
    for (let i = a.length - 1; i >= 0; i--)
        for (let j = b.length - 1; j >= 0; j--)
            common[i][j] = a[i] === b[j] ? common[i + 1][j + 1] + 1 : Math.max(common[i + 1][j], common[i][j + 1]);
    const ops: string[] = [];
    let i = 0;
    let j = 0;
    while (i < a.length || j < b.length) {
        if (i < a.length && j < b.length && a[i] === b[j]) {
            ops.push(`  ${a[i++]}`);
            j++;
        } else if (i < a.length && (j === b.length || common[i + 1][j] >= common[i][j + 1])) ops.push(`- ${a[i++]}`);
        else ops.push(`+ ${b[j++]}`);
    }
    const changed = ops.flatMap((op, k) => (op.startsWith(" ") ? [] : [k]));
    const shown = new Set(changed.flatMap((k) => Array.from({ length: 2 * context + 1 }, (_, d) => k - context + d)));
    const out: string[] = [];
    let last = -1;
    ops.forEach((op, k) => {
        if (!shown.has(k)) return;
        if (k > last + 1) out.push("  ...");
        out.push(op);
        last = k;
    });
    if (changed.length > 0 && last < ops.length - 1) out.push("  ...");
    return out;
}

const LIMITS =
    "Rendered offline: the program of the base branch and of this pull request under Pulumi mocks, each " +
    "with its committed `Pulumi.production.yaml`, secrets replaced by placeholders. It cannot show what " +
    "production runs now (drift), what AWS answers, or anything a secret's value decides: the `up` job on " +
    "main, in the `production` environment, previews with those before it changes anything.";

/** The Markdown summary of base → pull request. */
export function describe(base: Rendered | undefined, head: Rendered): string[] {
    const lines = [head.plan ?? "(the program printed no Plan line)", ""];
    const switched = base !== undefined && base.liveColor !== head.liveColor;
    lines.push(
        switched ? `Live pool: ${base.liveColor} → ${head.liveColor}` : `Live pool: ${head.liveColor} (unchanged)`,
        "",
    );
    const diff = lineDiff(base?.nginxConf ?? "", head.nginxConf);
    if (diff.length === 0)
        lines.push(
            "The nginx config does not change" + (switched ? " (no-reload switch: no connection is closed)." : "."),
        );
    else lines.push("nginx config change:", "", "```diff", ...diff, "```");
    // What the pull request adds and removes (a second router, a load balancer), as a preview lists it.
    // The single router's instance, address and switch renamed for several (nginx → nginx-1) keep their
    // history (aliases); its reach check has none (it is made anew, changing nothing).
    if (base) {
        let added = head.resources.filter((r) => !base.resources.includes(r));
        let removed = base.resources.filter((r) => !head.resources.includes(r));
        const renamed = removed.flatMap((r) => {
            if (r.startsWith("reach-")) return [];
            const to = added.find(
                (a) => a === r.replace(/^(\S*nginx) /, "$1-1 ") || r === a.replace(/^(\S*nginx) /, "$1-1 "),
            );
            return to ? [[r, to] as const] : [];
        });
        added = added.filter((a) => !renamed.some(([, to]) => to === a));
        removed = removed.filter((r) => !renamed.some(([from]) => from === r));
        const sections = [
            ["adds", added.map((r) => `- ${r}`)],
            ["removes", removed.map((r) => `- ${r}`)],
            [
                "renames (each keeps its history: an alias)",
                renamed.map(([from, to]) => `- ${from} → ${to.split(" ")[0]}`),
            ],
        ] as const;
        for (const [what, list] of sections)
            if (list.length > 0) lines.push("", `Resources this pull request ${what}:`, "", ...list);
    }
    return lines;
}

function message(err: unknown): string {
    return err instanceof Error ? err.message : String(err);
}

/** The whole summary and the exit code (1 when the pull request's config is refused). */
export async function offlinePreview(baseDir: string, headDir: string): Promise<{ text: string; code: number }> {
    const lines = ["### Production after this pull request (offline preview, no credentials)", ""];
    let base: Rendered | undefined;
    let baseProblem: string | undefined;
    try {
        base = await render(baseDir, stackConfig(baseDir));
    } catch (err) {
        baseProblem = message(err);
        // A run refused midway leaves the mocked engine calls of what it registered; they must land
        // before the next run replaces the mocks, or they reject there as unknown resources.
        await new Promise((resolve) => setTimeout(resolve, 0));
    }
    let code = 0;
    try {
        lines.push(...describe(base, await render(headDir, stackConfig(headDir), base?.outputs)));
    } catch (err) {
        if (!(err instanceof ProgramRefused)) throw err;
        lines.push("The program refuses production's config as this pull request leaves it:", "", "```");
        lines.push(err.message, "```");
        code = 1;
    }
    if (baseProblem !== undefined) {
        lines.push("", `The base branch could not be rendered, so nothing is compared with it: ${baseProblem}`);
    }
    lines.push("", LIMITS, "");
    return { text: lines.join("\n"), code };
}

if (require.main === module) {
    const [baseDir, headDir] = process.argv.slice(2);
    if (!baseDir || !headDir) {
        console.error("usage: offline-preview.ts <base checkout> <pull request checkout>");
        process.exit(2);
    }
    offlinePreview(baseDir, headDir).then(
        ({ text, code }) => {
            process.stdout.write(text);
            process.exitCode = code;
        },
        (err: unknown) => {
            console.error(err);
            process.exitCode = 1;
        },
    );
}
