// Throwaway Pulumi stacks for the integration tests and the bench: a temp dir holding a copy of
// the project, a file backend inside it, and the toolchain that scripts/bootstrap-toolchain.sh
// provides.
// Nothing here reads or writes the user's own Pulumi login or stacks.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { LocalWorkspace, PulumiCommand, Stack } from "@pulumi/pulumi/automation";

export const REPO_ROOT = path.resolve(__dirname, "..", "..");

let pulumiDir: string | undefined;

/** The directory holding `pulumi`, from the bootstrap (which builds nothing when it is ready). */
export function pulumiBinDir(): string {
    if (!pulumiDir) {
        const out = execFileSync("bash", [path.join(REPO_ROOT, "scripts", "bootstrap-toolchain.sh")], {
            encoding: "utf8",
            stdio: ["ignore", "pipe", "inherit"],
        });
        pulumiDir = out.trim().split("\n").pop() as string;
    }
    return pulumiDir;
}

/** What a copy of this project needs to run as a Pulumi program. */
export const PROGRAM_FILES = [
    "Pulumi.yaml",
    "package.json",
    "tsconfig.json",
    "main.js",
    "index.ts",
    "components",
    "templates",
    "bin",
] as const;

export interface TestStack {
    readonly stack: Stack;
    /** Environment for running pulumi (or the operator scripts) against this stack. */
    readonly env: Readonly<Record<string, string>>;
    /** The temp dir holding the project copy, the backend and anything the test writes. */
    readonly dir: string;
    /** Destroys the stack's resources and removes the temp dir. */
    dispose(): Promise<void>;
}

export interface TestStackOptions {
    /** Files and folders of `sourceDir` to copy into the temp project. */
    readonly copy: readonly string[];
    readonly sourceDir: string;
    readonly stackName?: string;
    readonly config?: Readonly<Record<string, string>>;
}

/** Creates a stack on a file backend inside a fresh temp dir. */
export async function createTestStack(opts: TestStackOptions): Promise<TestStack> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bluegreen-test-"));
    const projectDir = path.join(dir, "project");
    const backendDir = path.join(dir, "backend");
    fs.mkdirSync(projectDir);
    // The stack's state and history: the test's user's alone, as npm start's (scripts/local-env.sh).
    fs.mkdirSync(backendDir, { mode: 0o700 });
    for (const entry of opts.copy) {
        fs.mkdirSync(path.dirname(path.join(projectDir, entry)), { recursive: true });
        // Times kept: main.js runs bin/ only when it is newer than the sources, as in the checkout.
        fs.cpSync(path.join(opts.sourceDir, entry), path.join(projectDir, entry), {
            recursive: true,
            preserveTimestamps: true,
        });
    }
    fs.symlinkSync(path.join(REPO_ROOT, "node_modules"), path.join(projectDir, "node_modules"));

    const binDir = pulumiBinDir();
    // Automation runs `pulumi` from PATH; put the bootstrapped one first.
    process.env.PATH = `${binDir}:${process.env.PATH ?? ""}`;
    const pulumiCommand = await PulumiCommand.get();
    const env = {
        PULUMI_BACKEND_URL: `file://${backendDir}`,
        PULUMI_CONFIG_PASSPHRASE: "",
        PULUMI_SKIP_UPDATE_CHECK: "true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    };
    const stack = await LocalWorkspace.createOrSelectStack(
        { stackName: opts.stackName ?? "test", workDir: projectDir },
        { pulumiCommand, envVars: env },
    );
    for (const [key, value] of Object.entries(opts.config ?? {})) {
        await stack.setConfig(key, { value });
    }
    return {
        stack,
        env: { ...env, PATH: process.env.PATH ?? "" },
        dir,
        async dispose() {
            try {
                await stack.destroy({ onOutput: () => undefined });
            } finally {
                fs.rmSync(dir, { recursive: true, force: true });
            }
        },
    };
}
