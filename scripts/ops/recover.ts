// `npm run recover`: after a `pulumi up` that was killed (SIGKILL, a lost terminal, a crashed
// laptop). A killed CLI leaves its language host, program and command plugin running, and the
// host scripts they started; its lock stays; once in a while its last write leaves the stack
// unreadable ("failed to load checkpoint: EOF"). This stops those processes by pid, repairs the
// file backend, clears the lock (on a backend others share, such as PostgreSQL, only with
// --cancel), converges with `pulumi up`, and checks that the stack's outputs, what nginx serves
// and a preview agree.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import * as os from "node:os";
import * as path from "node:path";
import { Command } from "commander";
import { type LockHolder, PROJECT_DIR, StackLockedError, backendProblem, backendUrl, openStack, up } from "./stack";

export class RecoverError extends Error {}

/** A process the killed update left behind. */
export interface Leftover {
    readonly pid: number;
    readonly role: string;
    readonly command: string;
}

function readProc(pid: string, file: string): string | undefined {
    try {
        return fs.readFileSync(`/proc/${pid}/${file}`, "utf8");
    } catch {
        return undefined;
    }
}

/** What a process is to Pulumi, from its command line and environment; undefined if nothing. */
export function roleOf(argv: readonly string[], environ: readonly string[]): string | undefined {
    const exe = path.basename(argv[0] ?? "");
    if (exe === "pulumi") return "pulumi CLI";
    if (exe === "pulumi-language-nodejs") return "language host";
    if (exe.startsWith("pulumi-resource-")) return `${exe.slice("pulumi-resource-".length)} plugin`;
    if (exe === "node" && argv.some((a) => /@pulumi[/\\]pulumi[/\\]cmd[/\\]run/.test(a))) return "program";
    // A host script carries its text in BLUEGREEN_ON_<PHASE> (components/hosts.ts); nginx and
    // the apps it starts never run bash -c.
    if (exe === "bash" && argv[1] === "-c" && environ.some((e) => e.startsWith("BLUEGREEN_ON_")))
        return `host script ${argv[argv.length - 1]}`;
    return undefined;
}

/** Pulumi's processes working in `projectDir`, this process and its parents excepted. */
export function leftovers(projectDir: string): Leftover[] {
    const ours = new Set<number>();
    for (let pid = process.pid; pid > 1;) {
        ours.add(pid);
        pid = Number(/^PPid:\s+(\d+)/m.exec(readProc(String(pid), "status") ?? "")?.[1] ?? 0);
    }
    const found: Leftover[] = [];
    for (const pid of fs.readdirSync("/proc").filter((e) => /^\d+$/.test(e))) {
        if (ours.has(Number(pid))) continue;
        let cwd: string;
        try {
            cwd = fs.readlinkSync(`/proc/${pid}/cwd`);
        } catch {
            continue;
        }
        if (cwd !== projectDir && !cwd.startsWith(`${projectDir}/`)) continue;
        const argv = (readProc(pid, "cmdline") ?? "").split("\0").filter(Boolean);
        const role = roleOf(argv, (readProc(pid, "environ") ?? "").split("\0"));
        if (role) found.push({ pid: Number(pid), role, command: argv.join(" ").slice(0, 100) });
    }
    return found;
}

/** Running, not a zombie waiting for its parent. */
const alive = (pid: number) => !/^\S+ \(.*\) Z/.test(readProc(String(pid), "stat") ?? "0 () Z");

/** SIGTERM, then SIGKILL after 5 s whatever still runs. */
async function stop(processes: readonly Leftover[]): Promise<void> {
    for (const p of processes) {
        console.log(`  stopping pid ${p.pid} (${p.role}): ${p.command}`);
        try {
            process.kill(p.pid, "SIGTERM");
        } catch {
            /* gone already */
        }
    }
    for (const deadline = Date.now() + 5000; processes.some((p) => alive(p.pid)) && Date.now() < deadline;)
        await new Promise((r) => setTimeout(r, 100));
    for (const p of processes.filter((p) => alive(p.pid))) {
        console.log(`  pid ${p.pid} ignored SIGTERM; killing it`);
        try {
            process.kill(p.pid, "SIGKILL");
        } catch {
            /* it ended meanwhile */
        }
    }
}

/** The directory of a file backend URL (file://…), or undefined for any other backend. */
export function fileBackendDir(url: string | undefined): string | undefined {
    if (!url?.startsWith("file://")) return undefined;
    // `pulumi login --local` is file://~
    return path.resolve(
        url
            .slice("file://".length)
            .replace(/\?.*$/, "")
            .replace(/^~(?=\/|$)/, process.env.HOME ?? "~"),
    );
}

function readableCheckpoint(file: string): boolean {
    try {
        const state = JSON.parse(fs.readFileSync(file, "utf8"));
        return typeof state === "object" && state !== null && "checkpoint" in state;
    } catch {
        return false;
    }
}

/**
 * Repairs what a killed write leaves in a file backend, keeping every file it replaces under
 * .pulumi/recovered/<time>/. Two things were seen: an empty `.attrs` beside a state file (the
 * storage library's metadata, rewritten in place before each save: the CLI then fails with
 * "failed to load checkpoint: EOF"), and a checkpoint that is not whole JSON, which comes back
 * from the backend's own copies: <stack>.json.bak, then the newest of .pulumi/backups/.
 * Returns what it did, a line each.
 */
export function repairFileBackend(backendDir: string, project: string, stackName: string, now = new Date()): string[] {
    const meta = path.join(backendDir, ".pulumi");
    const rescue = path.join(meta, "recovered", now.toISOString().replace(/[:.]/g, "-"));
    const done: string[] = [];
    const keep = (file: string) => {
        const copy = path.join(rescue, path.relative(meta, file));
        fs.mkdirSync(path.dirname(copy), { recursive: true });
        fs.copyFileSync(file, copy);
        return copy;
    };
    const walk = (dir: string): string[] =>
        fs.existsSync(dir)
            ? fs
                  .readdirSync(dir, { withFileTypes: true })
                  .flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]))
            : [];
    for (const file of ["stacks", "locks", "backups", "history"].flatMap((d) => walk(path.join(meta, d)))) {
        if (!file.endsWith(".attrs") || fs.statSync(file).size > 0) continue;
        keep(file);
        fs.rmSync(file);
        done.push(
            `removed the empty metadata file ${path.relative(backendDir, file)} ` +
                `(a write the kill cut short; the CLI read it as "EOF")`,
        );
    }
    const checkpoint = [
        path.join(meta, "stacks", project, `${stackName}.json`),
        path.join(meta, "stacks", `${stackName}.json`),
    ].find((f) => fs.existsSync(f));
    if (!checkpoint || readableCheckpoint(checkpoint)) return done;
    const backups = path.join(meta, "backups", project, stackName);
    const candidates = [
        `${checkpoint}.bak`,
        ...walk(backups)
            .filter((f) => f.endsWith(".json"))
            .sort()
            .reverse(),
    ].filter((f) => fs.existsSync(f) && readableCheckpoint(f));
    if (candidates.length === 0) {
        throw new RecoverError(
            `the checkpoint ${checkpoint} is not readable, and neither ${checkpoint}.bak ` +
                `nor any file in ${backups} holds a whole one. ` +
                `Restore one from your own backup of ${backendDir}, or rebuild the state with pulumi import.`,
        );
    }
    const saved = keep(checkpoint);
    fs.copyFileSync(candidates[0], checkpoint);
    fs.rmSync(`${checkpoint}.attrs`, { force: true });
    done.push(
        `the checkpoint ${path.relative(backendDir, checkpoint)} was not whole JSON ` +
            `(kept as ${path.relative(backendDir, saved)}); restored the last good one, ` +
            `${path.relative(backendDir, candidates[0])} (written ${fs.statSync(candidates[0]).mtime.toISOString()})`,
    );
    return done;
}

/** The lock files of a file backend's stack (what `pulumi cancel` removes). */
function lockFiles(backendDir: string, project: string, stackName: string): string[] {
    const dirs = [
        path.join(backendDir, ".pulumi", "locks", "organization", project, stackName),
        path.join(backendDir, ".pulumi", "locks", stackName),
    ];
    return dirs
        .filter((d) => fs.existsSync(d))
        .flatMap((d) =>
            fs
                .readdirSync(d)
                .filter((f) => f.endsWith(".json"))
                .map((f) => path.join(d, f)),
        );
}

/**
 * Resources a killed update had begun to create and may have created: `pulumi up` would create
 * them again. A command resource's script is idempotent; a cloud resource would be duplicated.
 */
export function pendingCreates(deployment: {
    pending_operations?: { type?: string; resource?: { urn?: string; type?: string } }[];
}): string[] {
    return (deployment.pending_operations ?? [])
        .filter((op) => op.type === "creating" && !String(op.resource?.type).startsWith("command:"))
        .map((op) => String(op.resource?.urn));
}

/** Whether `pid` runs a pulumi CLI on this machine. */
function runsPulumi(pid: number): boolean {
    const argv0 = (readProc(String(pid), "cmdline") ?? "").split("\0")[0];
    return alive(pid) && path.basename(argv0) === "pulumi";
}

/**
 * What to do about a lock on a backend others share (PostgreSQL, a bucket): the lock may be a
 * teammate's or CI's running update, so it is cleared only with --cancel; what this machine can
 * see of the holder (its pid, when it is this host) helps the operator decide.
 */
export function lockedAdvice(
    holders: readonly LockHolder[],
    here = os.hostname(),
    runsHere: (pid: number) => boolean = runsPulumi,
): string {
    const named = holders.map((h) => {
        const seen =
            h.host !== here
                ? "another machine"
                : runsHere(h.pid)
                  ? "it still runs here: let it finish"
                  : "no pulumi runs with that pid here any more";
        return `${h.user}@${h.host} (pid ${h.pid}, since ${h.since}; ${seen})`;
    });
    return (
        `the stack is locked by ${named.join(", ") || "another update"}, and pulumi up changed nothing. ` +
        "On a shared backend recover does not clear a lock by itself: it may be a teammate's or CI's running " +
        "update. If that update is over (a killed one: run npm run recover -- --cancel in its own clone, which " +
        "also stops what it left running), clear the lock and converge with npm run recover -- --cancel."
    );
}

function pulumi(args: string[]): { status: number; stdout: string; output: string } {
    const result = spawnSync("pulumi", [...args, "--non-interactive"], {
        cwd: PROJECT_DIR,
        encoding: "utf8",
        maxBuffer: 64 * 1024 * 1024,
    });
    return {
        status: result.status ?? 1,
        stdout: result.stdout ?? "",
        output: `${result.stdout ?? ""}${result.stderr ?? ""}`.trim(),
    };
}

function servedColor(url: string): Promise<string> {
    return new Promise((resolve, reject) => {
        const client = url.startsWith("https:") ? https : http;
        const req = client.get(url, { timeout: 5000, rejectUnauthorized: false }, (res) => {
            res.resume();
            resolve(String(res.headers["x-deploy-color"] ?? `no X-Deploy-Color (status ${res.statusCode})`));
        });
        req.on("timeout", () => req.destroy(new Error("no answer within 5 s")));
        req.on("error", reject);
    });
}

async function main(): Promise<void> {
    const opts = new Command("recover")
        .description(
            "After a killed pulumi up: stop what it left running, repair the state, clear the lock, converge, check.",
        )
        .option("-s, --stack <name>", "stack", "local")
        .option(
            "--cancel",
            "on a backend other than file://, cancel the stack's update (only when no one else runs one)",
        )
        .parse()
        .opts<{ stack: string; cancel?: boolean }>();
    const project =
        /^name:\s*(\S+)/m.exec(fs.readFileSync(path.join(PROJECT_DIR, "Pulumi.yaml"), "utf8"))?.[1] ?? "bluegreen";

    const found = leftovers(PROJECT_DIR);
    const cli = found.filter((p) => p.role === "pulumi CLI");
    if (cli.length > 0) {
        throw new RecoverError(
            `pulumi is still running here (${cli.map((p) => `pid ${p.pid}: ${p.command}`).join("; ")}). ` +
                `Let it finish, or stop it (kill -INT <pid>), then run npm run recover again.`,
        );
    }
    console.log(
        found.length
            ? `Stopping ${found.length} process(es) the killed update left running:`
            : "No process of a killed update is running here.",
    );
    await stop(found);

    const url = backendUrl();
    const problem = backendProblem(url);
    if (problem) throw new RecoverError(problem);
    const backendDir = fileBackendDir(url);
    if (backendDir) {
        for (const line of repairFileBackend(backendDir, project, opts.stack)) console.log(`Repaired: ${line}`);
    }
    // Only a file backend's lock is known to be this machine's; elsewhere a teammate's or CI's
    // update may hold it, which only the operator can rule out.
    const locked = backendDir ? lockFiles(backendDir, project, opts.stack).length > 0 : Boolean(opts.cancel);
    if (locked) {
        const cancel = pulumi(["cancel", "--yes", "--stack", opts.stack]);
        if (cancel.status !== 0) throw new RecoverError(`pulumi cancel failed: ${cancel.output}`);
        console.log("Cleared the stack's lock (pulumi cancel).");
    }

    const exported = pulumi(["stack", "export", "--stack", opts.stack]);
    if (exported.status !== 0) throw new RecoverError(`pulumi stack export failed: ${exported.output}`);
    const unsure = pendingCreates(JSON.parse(exported.stdout).deployment ?? {});
    if (unsure.length > 0) {
        const them = unsure.length > 1 ? "them" : "it";
        throw new RecoverError(
            `the killed update was creating ${unsure.join(", ")}, and may have created ${them}; ` +
                `pulumi up would create ${them} again. Look in the cloud console: if it exists, run ` +
                "pulumi refresh --import-pending-creates <urn>,<id> (or --clear-pending-creates after deleting " +
                "it by hand), then npm run recover again.",
        );
    }

    const stack = await openStack(opts.stack);
    console.log("Converging: pulumi up");
    try {
        await up(stack, "npm run recover: converge after a killed update");
    } catch (err) {
        if (err instanceof StackLockedError) throw new RecoverError(lockedAdvice(err.holders));
        throw err;
    }

    const outputs = await stack.outputs();
    const recorded = String(outputs.activeColor?.value);
    const served = await servedColor(String(outputs.publicUrl?.value)).catch(
        (err: Error) => `nothing (${err.message})`,
    );
    const preview = pulumi(["preview", "--expect-no-changes", "--stack", opts.stack]);
    const problems = [
        ...(served === recorded ? [] : [`nginx serves ${served}, the stack's activeColor output says ${recorded}`]),
        ...(preview.status === 0 ? [] : [`pulumi preview still finds changes:\n${preview.output}`]),
    ];
    if (problems.length) throw new RecoverError(`after pulumi up, ${problems.join("; ")}`);
    console.log(
        `Recovered: the stack says ${recorded} is live, nginx serves ${served}, ` +
            "and pulumi preview finds nothing to change.",
    );
}

if (require.main === module) {
    main().catch((err: Error) => {
        console.error(`recover: ${err.message}`);
        process.exit(1);
    });
}
