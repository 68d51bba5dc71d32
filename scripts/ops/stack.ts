// Opens a stack of this project for the operator scripts (history, rollback, deploy) through
// the Automation API, with the same environment the plain `pulumi` commands get from .envrc (or
// from PULUMI_BACKEND_URL, or the CLI's login, for a stack kept elsewhere: docs/state.md).
import { spawn, spawnSync } from "node:child_process";
import * as path from "node:path";
import { LocalWorkspace, PulumiCommand, Stack, UpdateSummary } from "@pulumi/pulumi/automation";

export const PROJECT_DIR = path.resolve(__dirname, "..", "..");
export const COLORS = ["blue", "green"] as const;
export type Color = (typeof COLORS)[number];

/**
 * The backend pulumi uses here: PULUMI_BACKEND_URL, else the CLI's own login (`pulumi login
 * postgres://…` keeps it in ~/.pulumi/credentials.json); undefined when there is neither.
 */
export function backendUrl(): string | undefined {
    if (process.env.PULUMI_BACKEND_URL) return process.env.PULUMI_BACKEND_URL;
    const whoami = spawnSync("pulumi", ["whoami", "--json", "--non-interactive"], { encoding: "utf8" });
    if (whoami.status !== 0) return undefined;
    try {
        const url: unknown = JSON.parse(whoami.stdout).url;
        return typeof url === "string" && url ? url : undefined;
    } catch {
        return undefined;
    }
}

/** Why pulumi cannot work on `url` here, with the fix; undefined when it can. */
export function backendProblem(url: string | undefined): string | undefined {
    if (!url) {
        return (
            "no Pulumi backend: PULUMI_BACKEND_URL is not set and pulumi is not logged in. For the local stack, " +
            "run `source .envrc` first (npm start writes it); for a stack your team shares, " +
            "export PULUMI_BACKEND_URL=postgres://… (docs/state.md) or pulumi login <url>."
        );
    }
    // Measured with the CLI this project builds (3.274.1): postgresql:// is taken for a Pulumi
    // Cloud address ("PULUMI_ACCESS_TOKEN must be set for login"), not for the database.
    if (/^postgresql:\/\//i.test(url)) {
        return (
            "the backend URL starts with postgresql://, which the Pulumi CLI takes for a Pulumi Cloud address: " +
            "its PostgreSQL backend answers to postgres:// only. " +
            "Fix: export PULUMI_BACKEND_URL=postgres://… (the rest of the URL unchanged)."
        );
    }
    return undefined;
}

export async function openStack(stackName: string): Promise<Stack> {
    const problem = backendProblem(backendUrl());
    if (problem) throw new Error(problem);
    const pulumiCommand = await PulumiCommand.get({ skipVersionCheck: true });
    return LocalWorkspace.selectStack({ stackName, workDir: PROJECT_DIR }, { pulumiCommand });
}

/** Whoever holds a DIY backend's (file, PostgreSQL, S3…) stack lock, as `pulumi up` names them. */
export interface LockHolder {
    readonly user: string;
    readonly host: string;
    readonly pid: number;
    /** When the lock was taken (RFC 3339). */
    readonly since: string;
}

/**
 * The holders a lock refusal names. A DIY backend says: `error: the stack is currently locked by
 * 1 lock(s). …` then a line per lock, `<url>: created by root@vm (pid 8890) at 2026-12-03T08:55:28Z`.
 */
export function lockHolders(output: string): LockHolder[] {
    return [...output.matchAll(/: created by (.+?)@(\S+) \(pid (\d+)\) at (\S+)/g)].map((m) => ({
        user: m[1],
        host: m[2],
        pid: Number(m[3]),
        since: m[4],
    }));
}

/** `pulumi up` refused before it changed anything: another update holds the stack's lock. */
export class StackLockedError extends Error {
    constructor(readonly holders: readonly LockHolder[]) {
        super(
            `the stack is locked by ${
                holders.map((h) => `${h.user}@${h.host} (pid ${h.pid}, since ${h.since})`).join(", ") ||
                "another update"
            }: pulumi up changed nothing`,
        );
    }
}

/** Whether pulumi's output is a DIY backend's lock refusal. */
export function lockRefusal(output: string): boolean {
    return output.includes("the stack is currently locked by");
}

/**
 * `pulumi up --skip-preview` on the stack, output straight to this terminal. The plain CLI
 * rather than the Automation API's up(), which reads the history and the outputs again
 * afterwards (two more CLI runs, most of a second, that a rollback should not wait for).
 * Its errors pass through a pipe (and on to this stderr), so that a refusal by the stack's lock
 * rejects with a StackLockedError naming the holder.
 */
export function up(stack: Stack, message: string): Promise<void> {
    return new Promise((resolve, reject) => {
        const child = spawn(
            "pulumi",
            ["up", "--yes", "--skip-preview", "--non-interactive", "--stack", stack.name, "--message", message],
            {
                cwd: PROJECT_DIR,
                stdio: ["ignore", "inherit", "pipe"],
            },
        );
        let errors = "";
        child.stderr.on("data", (chunk: Buffer) => {
            process.stderr.write(chunk);
            errors = (errors + chunk.toString("utf8")).slice(-65536);
        });
        child.on("error", reject);
        child.on("close", (code, signal) => {
            if (code === 0) resolve();
            else if (lockRefusal(errors)) reject(new StackLockedError(lockHolders(errors)));
            else reject(new Error(`pulumi up exited with ${signal ?? `status ${code}`}`));
        });
    });
}

/** What an update deployed, read from the config it ran with. */
export interface Deployed {
    /** Position in the history, oldest = 1 (DIY backends, file and PostgreSQL, record no version numbers). */
    readonly update: number;
    readonly kind: string;
    readonly time: Date;
    /** When it ended (its start, for one still running). */
    readonly endTime: Date;
    readonly result: string;
    readonly message: string;
    readonly activeColor?: Color;
    readonly versions: Readonly<Record<Color, string>>;
    readonly artifacts: Readonly<Record<Color, string>>;
    /** The canary's share of clients it left on the idle pool (0: none). */
    readonly canaryPercent: number;
}

function configValue(update: UpdateSummary, key: string): string | undefined {
    const entry = update.config?.[`bluegreen:${key}`];
    return entry?.value;
}

export function deployedBy(update: UpdateSummary, position: number): Deployed {
    const color = configValue(update, "activeColor");
    return {
        update: update.version > 0 ? update.version : position,
        kind: update.kind,
        time: new Date(update.startTime),
        endTime: new Date(update.endTime ?? update.startTime),
        result: update.result,
        message: update.message,
        activeColor: color === "blue" || color === "green" ? color : undefined,
        versions: {
            blue: configValue(update, "blueVersion") ?? "1.0.0",
            green: configValue(update, "greenVersion") ?? "1.0.0",
        },
        artifacts: {
            blue: configValue(update, "blueArtifact") ?? "bin/app",
            green: configValue(update, "greenArtifact") ?? "bin/app",
        },
        canaryPercent: Number(configValue(update, "canaryPercent") ?? 0) || 0,
    };
}

/** The last successful update that left a pool live: what is deployed and serving now. */
export function lastSuccessful(history: readonly Deployed[]): Deployed | undefined {
    return history.filter((u) => u.kind === "update" && u.result === "succeeded" && u.activeColor).pop();
}

/** Every release key as `u` deployed it, so config a failed update left behind cannot ride along. */
export function releaseConfig(u: Deployed): Record<string, string> {
    return {
        blueVersion: u.versions.blue,
        greenVersion: u.versions.green,
        blueArtifact: u.artifacts.blue,
        greenArtifact: u.artifacts.green,
    };
}

/** Sets these project config keys in one `pulumi config set-all` (each CLI run costs a few hundred ms). */
export function setConfig(stack: Stack, values: Record<string, string>): Promise<void> {
    return stack.setAllConfig(
        Object.fromEntries(Object.entries(values).map(([key, value]) => [`bluegreen:${key}`, { value }])),
    );
}

/** Entries asked for per `pulumi stack history` call (the CLI returns 10 unless told). */
const HISTORY_PAGE = 100;
/** A bound on pages read, should a backend ignore --page (10,000 updates). */
const HISTORY_MAX_PAGES = 100;

/**
 * The stack's whole history (updates, destroys, refreshes), oldest first, numbered from 1.
 * Every page is read: the numbers must not shift as updates accumulate, since
 * `npm run rollback -- --to N` takes them.
 */
export async function updates(stack: Stack): Promise<Deployed[]> {
    const newestFirst: UpdateSummary[] = [];
    for (let page = 1; page <= HISTORY_MAX_PAGES; page++) {
        const batch = await stack.history(HISTORY_PAGE, page, false);
        newestFirst.push(...batch);
        if (batch.length < HISTORY_PAGE) break;
    }
    return [...newestFirst].reverse().map((u, i) => deployedBy(u, i + 1));
}

export function otherColor(color: Color): Color {
    return color === "blue" ? "green" : "blue";
}
