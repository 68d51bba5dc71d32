// A stand-in for the `command` resource plugin (pulumi-resource-command), used only where
// the official plugin can be neither downloaded nor built: the Go module proxy reachable
// from this project's machines refuses every version of github.com/pulumi/pulumi-command.
// It speaks the same gRPC provider protocol through the Pulumi Node.js SDK's provider
// server, so the program keeps using `@pulumi/command` unchanged, and it follows the
// official provider's documented semantics for `command:local:Command`:
//   - `create` runs on create; on any input change `update` runs (or `create` when no
//     `update` is given); `delete` runs on delete; a change of `triggers` replaces.
//   - commands run under `interpreter` (default /bin/sh -c) in `dir` (default: the
//     plugin's working directory, which is the project directory), with `environment`
//     added to the plugin's own, `stdin` fed in, and the previous stdout/stderr exposed
//     as PULUMI_COMMAND_STDOUT / PULUMI_COMMAND_STDERR unless `addPreviousOutputInEnv`
//     is false.
//   - it waits until the command's stdout and stderr close, as the official one does, so
//     a background process that keeps them open holds the update.
//   - outputs are the inputs plus `stdout` and `stderr`, each with one trailing newline cut.
//   - each output line is sent to the engine as an ephemeral info status of the resource
//     (honouring `logging`); on failure the error carries the command and all its output.
//   - `command:remote:Command` and `command:remote:CopyToRemote` run over SSH (remote.ts),
//     with the same lifecycle, logging and error rules.
// Not implemented (never used by this project; a resource that sets them fails clearly):
// `assetPaths`, `archivePaths`, `remote.CopyFile` and the `run` invoke.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import * as provider from "@pulumi/pulumi/provider";
import * as enginerpc from "@pulumi/pulumi/proto/engine_grpc_pb";
import * as engineproto from "@pulumi/pulumi/proto/engine_pb";
import { type ConnectionInputs, type WireSource, copyToRemote, runRemote } from "./remote";

/** The version this stand-in answers with: the one `@pulumi/command` asks the engine for. */
const PLUGIN_VERSION = process.env.BLUEGREEN_COMMAND_PLUGIN_VERSION ?? require("@pulumi/command/package.json").version;

const LOCAL_COMMAND = "command:local:Command";
const REMOTE_COMMAND = "command:remote:Command";
const COPY_TO_REMOTE = "command:remote:CopyToRemote";
const SUPPORTED = [LOCAL_COMMAND, REMOTE_COMMAND, COPY_TO_REMOTE];

/** The sentinel key with which the engine marks a secret value in a property struct. */
const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const SECRET_SIG_VALUE = "1b47061264138c4ac30d75fd1eb44270";

type Logging = "stdout" | "stderr" | "stdoutAndStderr" | "none";

interface LocalCommandInputs {
    create?: string;
    update?: string;
    delete?: string;
    triggers?: unknown[];
    environment?: Record<string, string>;
    dir?: string;
    interpreter?: string[];
    stdin?: string;
    logging?: Logging;
    addPreviousOutputInEnv?: boolean;
    assetPaths?: string[];
    archivePaths?: string[];
}

interface RemoteCommandInputs extends Omit<LocalCommandInputs, "dir" | "interpreter"> {
    connection: ConnectionInputs;
}

interface CopyToRemoteInputs {
    connection: ConnectionInputs;
    source: WireSource;
    remotePath: string;
    triggers?: unknown[];
}

interface LocalCommandState extends LocalCommandInputs {
    stdout: string;
    stderr: string;
}

/** Replaces every secret wrapper by its plain value: commands need the real text. */
function reveal(value: unknown): unknown {
    if (Array.isArray(value)) return value.map(reveal);
    if (value !== null && typeof value === "object") {
        const record = value as Record<string, unknown>;
        if (record[SECRET_SIG] === SECRET_SIG_VALUE) return reveal(record.value);
        return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, reveal(v)]));
    }
    return value;
}

function typeOf(urn: string): string {
    // urn:pulumi:stack::project::parent$type::name
    const parts = urn.split("::");
    const types = parts[2] ?? "";
    return types.split("$").pop() ?? "";
}

function nameOf(urn: string): string {
    return urn.split("::").pop() ?? "command";
}

class EngineLog {
    private readonly client?: enginerpc.EngineClient;

    constructor(address: string | undefined) {
        if (address) this.client = new enginerpc.EngineClient(address, grpc.credentials.createInsecure());
    }

    status(urn: string, message: string): Promise<void> {
        const client = this.client;
        if (!client) return Promise.resolve();
        const req = new engineproto.LogRequest();
        req.setSeverity(engineproto.LogSeverity.INFO);
        req.setMessage(message);
        req.setUrn(urn);
        req.setEphemeral(true);
        return new Promise((resolve) => client.log(req, () => resolve()));
    }
}

class CommandProvider implements provider.Provider {
    readonly version = PLUGIN_VERSION;

    constructor(private readonly engine: EngineLog) {}

    async check(urn: string, _olds: unknown, news: Record<string, unknown>): Promise<provider.CheckResult> {
        const failures: provider.CheckFailure[] = [];
        if (!SUPPORTED.includes(typeOf(urn))) {
            failures.push({
                property: "",
                reason:
                    `${typeOf(urn)} is not supported by this project's stand-in command provider ` +
                    `(only ${SUPPORTED.join(", ")}); install the official plugin: pulumi plugin install resource command ${PLUGIN_VERSION}`,
            });
        }
        for (const unsupported of ["assetPaths", "archivePaths"]) {
            if (news[unsupported] !== undefined) {
                failures.push({ property: unsupported, reason: `${unsupported} is not supported by the stand-in command provider` });
            }
        }
        return { inputs: news, failures };
    }

    async diff(_id: string, _urn: string, olds: Record<string, unknown>, news: Record<string, unknown>): Promise<provider.DiffResult> {
        const inputKeys = new Set([...Object.keys(news), ...Object.keys(olds)].filter((k) => k !== "stdout" && k !== "stderr"));
        // Assets and archives arrive with the hash of their content, so content changes count.
        const changed = [...inputKeys].filter((k) => JSON.stringify(olds[k]) !== JSON.stringify(news[k]));
        return { changes: changed.length > 0, replaces: changed.includes("triggers") ? ["triggers"] : [] };
    }

    async create(urn: string, inputs: LocalCommandInputs & Partial<CopyToRemoteInputs>): Promise<provider.CreateResult> {
        const id = `${nameOf(urn)}${randomBytes(4).toString("hex")}`;
        if (typeOf(urn) === COPY_TO_REMOTE) {
            await this.copy(urn, inputs as CopyToRemoteInputs);
            return { id, outs: inputs };
        }
        const state: LocalCommandState = { ...inputs, stdout: "", stderr: "" };
        if (inputs.create !== undefined) await this.run(urn, inputs.create, inputs, state);
        return { id, outs: state };
    }

    async update(_id: string, urn: string, olds: LocalCommandState, news: LocalCommandInputs & Partial<CopyToRemoteInputs>): Promise<provider.UpdateResult> {
        if (typeOf(urn) === COPY_TO_REMOTE) {
            const previous = olds as unknown as CopyToRemoteInputs;
            const next = news as CopyToRemoteInputs;
            // As the official provider: copy again only when the source or the path changed.
            if (previous.source.hash !== next.source.hash || previous.remotePath !== next.remotePath) {
                await this.copy(urn, next);
            }
            return { outs: news };
        }
        const state: LocalCommandState = { ...news, stdout: olds.stdout ?? "", stderr: olds.stderr ?? "" };
        const command = news.update ?? news.create;
        if (command !== undefined) await this.run(urn, command, news, state);
        return { outs: state };
    }

    async delete(_id: string, urn: string, state: LocalCommandState): Promise<void> {
        if (typeOf(urn) === COPY_TO_REMOTE) return;
        if (state.delete !== undefined) await this.run(urn, state.delete, state, { ...state });
    }

    private async copy(urn: string, rawInputs: CopyToRemoteInputs): Promise<void> {
        const inputs = reveal(rawInputs) as CopyToRemoteInputs;
        await copyToRemote(inputs.connection, rawInputs.source, inputs.remotePath, (line) => void this.engine.status(urn, line));
    }

    /** A remote command: the official remote semantics over SSH (remote.ts). */
    private async runOverSsh(urn: string, script: string, inputs: RemoteCommandInputs, out: LocalCommandState, logStdout: boolean, logStderr: boolean): Promise<void> {
        const env: Record<string, string> = { ...(inputs.environment ?? {}) };
        if (inputs.addPreviousOutputInEnv !== false) {
            if (out.stdout) env.PULUMI_COMMAND_STDOUT = out.stdout;
            if (out.stderr) env.PULUMI_COMMAND_STDERR = out.stderr;
        }
        const pendingLogs: Promise<void>[] = [];
        const result = await runRemote(inputs.connection, script, env, inputs.stdin, (line, stream) => {
            if (stream === "stdout" ? logStdout : logStderr) pendingLogs.push(this.engine.status(urn, line));
        });
        await Promise.all(pendingLogs);
        if (result.code !== 0) {
            const how = result.signal ? `was killed by ${result.signal}` : `exited with status ${result.code}`;
            throw new Error(`${how}: running ${JSON.stringify(script)} on ${inputs.connection.host}:\n${result.combined}`);
        }
        out.stdout = result.stdout.replace(/\n$/, "");
        out.stderr = result.stderr.replace(/\n$/, "");
    }

    /** Runs `command` as the official provider does and records its output in `out`. */
    private async run(urn: string, command: string, rawInputs: LocalCommandInputs, out: LocalCommandState): Promise<void> {
        const inputs = reveal(rawInputs) as LocalCommandInputs;
        const script = reveal(command) as string;
        const [program, ...args] = inputs.interpreter && inputs.interpreter.length > 0 ? inputs.interpreter : ["/bin/sh", "-c"];
        const env: Record<string, string | undefined> = { ...process.env, ...(inputs.environment ?? {}) };
        if (inputs.addPreviousOutputInEnv !== false) {
            if (out.stdout) env.PULUMI_COMMAND_STDOUT = out.stdout;
            if (out.stderr) env.PULUMI_COMMAND_STDERR = out.stderr;
        }
        const logging = inputs.logging ?? "stdoutAndStderr";
        const logStdout = logging === "stdout" || logging === "stdoutAndStderr";
        const logStderr = logging === "stderr" || logging === "stdoutAndStderr";
        if (typeOf(urn) === REMOTE_COMMAND) return this.runOverSsh(urn, script, inputs as unknown as RemoteCommandInputs, out, logStdout, logStderr);

        const child = spawn(program, [...args, script], { cwd: inputs.dir ?? process.cwd(), env, stdio: ["pipe", "pipe", "pipe"] });
        const stdout: Buffer[] = [];
        const stderr: Buffer[] = [];
        const combined: Buffer[] = [];
        const pendingLogs: Promise<void>[] = [];
        const forward = (chunks: Buffer[], log: boolean) => {
            let partial = "";
            return (chunk: Buffer) => {
                chunks.push(chunk);
                combined.push(chunk);
                if (!log) return;
                const lines = (partial + chunk.toString("utf8")).split("\n");
                partial = lines.pop() ?? "";
                for (const line of lines) pendingLogs.push(this.engine.status(urn, line));
            };
        };
        child.stdout.on("data", forward(stdout, logStdout));
        child.stderr.on("data", forward(stderr, logStderr));
        child.stdin.on("error", () => undefined); // a command that ignores stdin may close it early
        child.stdin.end(inputs.stdin ?? "");

        // 'close' (not 'exit') waits for stdout and stderr to close, like Go's cmd.Wait.
        const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
            child.on("error", reject);
            child.on("close", (c, s) => resolve([c, s]));
        });
        await Promise.all(pendingLogs);
        if (code !== 0) {
            const how = signal ? `was killed by ${signal}` : `exited with status ${code}`;
            throw new Error(`${how}: running ${JSON.stringify(script)}:\n${Buffer.concat(combined).toString("utf8")}`);
        }
        out.stdout = Buffer.concat(stdout).toString("utf8").replace(/\n$/, "");
        out.stderr = Buffer.concat(stderr).toString("utf8").replace(/\n$/, "");
    }
}

const args = process.argv.slice(2);
const engineAddress = args.find((a) => !a.startsWith("-"));
// The engine that started this plugin stops it when it ends. If the engine is killed (kill -9,
// a crash), nothing would: leave with it rather than linger. Commands already started keep
// running, as they would had the plugin been stopped.
const engineProcess = process.ppid;
setInterval(() => {
    if (process.ppid !== engineProcess) process.exit(0);
}, 1000).unref();
provider.main(new CommandProvider(new EngineLog(engineAddress)), args).catch((err: unknown) => {
    console.error(err);
    process.exit(1);
});
