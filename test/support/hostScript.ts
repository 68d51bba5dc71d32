// Runs one of the program's host scripts here as the command provider runs it on a host: `bash -c`
// with the script's text, its declared inputs as BLUEGREEN_* variables and, of this process's
// environment, only PATH (a test adds what a host would have).
import { spawn, spawnSync } from "node:child_process";
import { type AnyDeclaration, type ScriptInputs, declaredEnvironment, declaredScript } from "../../components/scripts";

export interface ScriptRun {
    readonly code: number | null;
    readonly stdout: string;
    readonly stderr: string;
    /** stdout, then stderr. */
    readonly output: string;
}

export interface ScriptOptions {
    /** Past it the script is killed (SIGKILL when started, as a lost session would leave it). */
    readonly timeoutMs?: number;
    /** More variables: a PATH of the test's own, or what must not reach a command the script runs. */
    readonly env?: Readonly<Record<string, string>>;
}

function invocation<D extends AnyDeclaration>(declaration: D, inputs: ScriptInputs<D, string>, options: ScriptOptions) {
    const script = declaredScript(declaration);
    return {
        args: ["-c", script.text, script.name],
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...options.env, ...declaredEnvironment(declaration, inputs) },
    };
}

const finished = (code: number | null, stdout: string, stderr: string): ScriptRun => ({
    code,
    stdout,
    stderr,
    output: `${stdout}${stderr}`,
});

/** Runs the script to its end. */
export function runHostScript<D extends AnyDeclaration>(
    declaration: D,
    inputs: ScriptInputs<D, string>,
    options: ScriptOptions = {},
): ScriptRun {
    const { args, env } = invocation(declaration, inputs, options);
    const result = spawnSync("bash", args, { encoding: "utf8", timeout: options.timeoutMs, env });
    return finished(result.status, result.stdout, result.stderr);
}

/** Starts the script: the test does what it must meanwhile. */
export function startHostScript<D extends AnyDeclaration>(
    declaration: D,
    inputs: ScriptInputs<D, string>,
    options: ScriptOptions = {},
): Promise<ScriptRun> {
    const { args, env } = invocation(declaration, inputs, options);
    const child = spawn("bash", args, { timeout: options.timeoutMs, killSignal: "SIGKILL", env });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    return new Promise((resolve, reject) => {
        child.on("error", reject);
        child.on("close", (code) => resolve(finished(code, stdout, stderr)));
    });
}
