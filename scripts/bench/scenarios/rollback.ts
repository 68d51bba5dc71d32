// 2. Rollback wall time, and 6. where the time goes; `--baseline=<commit>` measures an earlier
// commit in the same rounds.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { LocalStack, createLocalStack } from "../../lib/localStack";
import { REPO_ROOT } from "../../lib/pulumi";
import { operator, say } from "../common";

/** Milliseconds per phase of one `pulumi up`, by phase name (in the order the report lists them). */
export type Phases = Record<string, number>;

/** Wall times of one program's rollback commands. */
export interface RollbackTimes {
    readonly label: string;
    readonly plain: number[];
    readonly skipPlain: number[];
    readonly withPreview: { readonly times: number[]; readonly phases: Phases[] };
    readonly skipPreview: { readonly times: number[]; readonly phases: Phases[] };
    readonly npmRollback: number[];
}

/** A program to measure: this checkout, or an earlier commit checked out beside it. */
export interface Program {
    readonly label: string;
    readonly dir: string;
}

/** Splits one `pulumi up -v=9 --logtostderr` run into phases, from the engine's own log timestamps. */
function phasesOf(stderr: string, stdout: string, wallMs: number): Phases {
    const events: { t: number; msg: string }[] = [];
    for (const line of stderr.split("\n")) {
        if (!line.startsWith("{")) continue;
        try {
            const d = JSON.parse(line) as { time: string; msg: string };
            events.push({ t: Date.parse(d.time), msg: d.msg ?? "" });
        } catch {
            /* not a log line */
        }
    }
    const at = (re: RegExp, from = 0) => events.find((e) => e.t >= from && re.test(e.msg))?.t ?? NaN;
    const t0 = events[0]?.t ?? NaN;
    const previewStart = at(/\*\*\* Starting Update\(preview=true\)/);
    const updateStart = at(/\*\*\* Starting Update\(preview=false\)/);
    // Everything below happens in the update phase, after its start.
    const run = at(/langhost\[nodejs\]\.Run\(.*dryrun=false\) executing/, updateStart);
    const pluginLaunch = at(/Launching plugin 'command \(resource\)'/, run);
    const pluginReady = at(/GetPluginInfo\(\) success/, pluginLaunch);
    const gateStart = at(/Provider\[\w+\]\.Update\(gate-check\w*,.*\) executing/, updateStart);
    const gateEnd = at(/Provider\[\w+\]\.Update\(gate-check\w*,.*\) success/, gateStart);
    const routerStart = at(/Provider\[\w+\]\.Update\(router-nginx\w*,.*\) executing/, updateStart);
    const routerEnd = at(/Provider\[\w+\]\.Update\(router-nginx\w*,.*\) success/, routerStart);
    const end = at(/\*\*\* Update\(preview=false\) complete/, updateStart);
    const timing = /timing: config (\d+) ms .*live colour (\d+) ms, verify (\d+) ms/.exec(stdout);
    const phases: Phases = {
        "CLI start": (Number.isNaN(previewStart) ? updateStart : previewStart) - t0,
        "preview (program run + diff)": Number.isNaN(previewStart) ? 0 : updateStart - previewStart,
        "program start (Node.js, imports, config, previous state)": pluginLaunch - run,
        "command plugin start": pluginReady - pluginLaunch,
        "health gate": gateEnd - gateStart,
        "nginx config / reload": timing ? Number(timing[1]) : NaN,
        "live colour": timing ? Number(timing[2]) : NaN,
        verify: timing ? Number(timing[3]) : NaN,
    };
    const switchScript = routerEnd - routerStart;
    const known =
        phases["CLI start"] +
        phases["preview (program run + diff)"] +
        phases["program start (Node.js, imports, config, previous state)"] +
        phases["command plugin start"] +
        phases["health gate"] +
        switchScript;
    phases["engine (diffs, state writes) and exit"] = wallMs - known;
    phases["(update phase total)"] = end - updateStart;
    return phases;
}

/** Every program's stack is measured in turn within each round, so they share the machine's noise. */
export async function rollback(runs: number, programs: readonly Program[]): Promise<RollbackTimes[]> {
    say(`rollback wall time: ${programs.map((p) => p.label).join(" against ")}`);
    const stacks: LocalStack[] = [];
    try {
        for (const program of programs) {
            const stack = await createLocalStack({}, ["scripts/ops"], program.dir);
            stacks.push(stack);
            await stack.stack.up({ onOutput: () => undefined });
        }
        const colors = stacks.map(() => "blue");
        const flip = (i: number) => (colors[i] = colors[i] === "blue" ? "green" : "blue");
        const switchCommand = (i: number, extra: string) =>
            `pulumi config set activeColor ${flip(i)} && pulumi up --yes ${extra}`.trim();
        const times: RollbackTimes[] = programs.map((p) => ({
            label: p.label,
            plain: [],
            skipPlain: [],
            withPreview: { times: [], phases: [] },
            skipPreview: { times: [], phases: [] },
            npmRollback: [],
        }));
        const eachRound = (measure: (stack: LocalStack, i: number) => void) => {
            for (let round = 0; round < runs; round++) stacks.forEach((stack, i) => measure(stack, i));
        };
        // Warm-up (first run loads caches), not counted.
        stacks.forEach((stack, i) => operator(stack, switchCommand(i, "")));
        eachRound((stack, i) => times[i].plain.push(operator(stack, switchCommand(i, "")).ms));
        for (const [kind, extra] of [
            ["withPreview", ""],
            ["skipPreview", "--skip-preview"],
        ] as const) {
            eachRound((stack, i) => {
                const r = operator(stack, switchCommand(i, `${extra} -v=9 --logtostderr`));
                times[i][kind].times.push(r.ms);
                times[i][kind].phases.push(phasesOf(r.stderr, r.stdout, r.ms));
            });
        }
        eachRound((stack, i) => times[i].skipPlain.push(operator(stack, switchCommand(i, "--skip-preview")).ms));
        // `npm run rollback`: each run goes back to the update before.
        eachRound((stack, i) =>
            times[i].npmRollback.push(operator(stack, "bash scripts/ops/run.sh rollback --stack test").ms),
        );
        return times;
    } finally {
        for (const stack of stacks) await stack.dispose();
    }
}

/**
 * `--baseline=<commit>`: that commit checked out in a temp dir beside this one, its program
 * compiled, so the rollback section measures it against this checkout in the same session.
 */
export function checkoutBaseline(rev: string): Program & { remove(): void } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bluegreen-baseline-"));
    const git = (...args: string[]) => execFileSync("git", ["-C", REPO_ROOT, ...args], { encoding: "utf8" }).trim();
    const commit = git("rev-parse", "--short", rev);
    git("worktree", "add", "--detach", dir, commit);
    fs.symlinkSync(path.join(REPO_ROOT, "node_modules"), path.join(dir, "node_modules"));
    say(`baseline: ${commit} checked out in ${dir}; compiling it`);
    execFileSync("npx", ["--no-install", "tsc", "-p", "tsconfig.check.json"], { cwd: dir, stdio: "inherit" });
    return { label: commit, dir, remove: () => git("worktree", "remove", "--force", dir) };
}
