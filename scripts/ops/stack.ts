// Opens a stack of this project for the operator scripts (history, rollback, deploy) through
// the Automation API, with the same environment the plain `pulumi` commands get from .envrc.
import { spawn } from "node:child_process";
import * as path from "node:path";
import { LocalWorkspace, PulumiCommand, Stack, UpdateSummary } from "@pulumi/pulumi/automation";

export const PROJECT_DIR = path.resolve(__dirname, "..", "..");
export const COLORS = ["blue", "green"] as const;
export type Color = (typeof COLORS)[number];

export async function openStack(stackName: string): Promise<Stack> {
    if (!process.env.PULUMI_BACKEND_URL) {
        throw new Error(
            "PULUMI_BACKEND_URL is not set: run `source .envrc` first (npm start writes it), " +
                "or log in to your backend.",
        );
    }
    const pulumiCommand = await PulumiCommand.get({ skipVersionCheck: true });
    return LocalWorkspace.selectStack({ stackName, workDir: PROJECT_DIR }, { pulumiCommand });
}

/**
 * `pulumi up --skip-preview` on the stack, output straight to this terminal. The plain CLI
 * rather than the Automation API's up(), which reads the history and the outputs again
 * afterwards (two more CLI runs, most of a second, that a rollback should not wait for).
 */
export function up(stack: Stack, message: string): Promise<void> {
    return new Promise((resolve, reject) => {
        const child = spawn(
            "pulumi",
            ["up", "--yes", "--skip-preview", "--non-interactive", "--stack", stack.name, "--message", message],
            {
                cwd: PROJECT_DIR,
                stdio: ["ignore", "inherit", "inherit"],
            },
        );
        child.on("error", reject);
        child.on("exit", (code, signal) =>
            code === 0 ? resolve() : reject(new Error(`pulumi up exited with ${signal ?? `status ${code}`}`)),
        );
    });
}

/** What an update deployed, read from the config it ran with. */
export interface Deployed {
    /** Position in the history, oldest = 1 (the DIY file backend records no version numbers). */
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
