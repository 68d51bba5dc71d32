// Runs the program (index.ts) under pulumi.runtime.setMocks: no engine, no plugins.
// Records every registered resource so tests can assert on the resource graph. A refusal
// (the program logs an error and exits with code 32) becomes a rejected ProgramRefused.
import * as pulumi from "@pulumi/pulumi";
import * as path from "node:path";

export interface RecordedResource {
    readonly type: string;
    readonly name: string;
    readonly inputs: Record<string, unknown>;
}

export class ProgramRefused extends Error {
    constructor(
        readonly messages: readonly string[],
        readonly exitCode: number,
    ) {
        super(messages.join("\n"));
    }
}

const PROGRAM = path.resolve(__dirname, "..", "..", "index.ts");

/** Answers of the AWS data sources the aws target reads (as AWS would give them). */
const AWS_CALLS: Record<string, (inputs: Record<string, unknown>) => Record<string, unknown>> = {
    "aws:index/getAvailabilityZones:getAvailabilityZones": () => ({
        names: ["eu-west-1a", "eu-west-1b", "eu-west-1c"],
        zoneIds: ["euw1-az1", "euw1-az2", "euw1-az3"],
    }),
    "aws:ec2/getAmi:getAmi": () => ({
        id: "ami-0debian12",
        name: "debian-12-amd64-20261101-1234",
        architecture: "x86_64",
    }),
    // Subnet ...NN: 10.50.NN.0/24 (NN in hex), zone a for odd NN, b for even.
    "aws:ec2/getSubnet:getSubnet": (inputs) => {
        const id = String(inputs.id);
        const n = parseInt(id.slice(-2), 16);
        return { id, cidrBlock: `10.50.${n}.0/24`, availabilityZone: n % 2 ? "eu-west-1a" : "eu-west-1b" };
    },
};

/** What the last `runProgram` logged at info level (the plan). */
export const info: string[] = [];

/** What the last `runProgram` registered, kept even when the program is refused. */
export const registered: RecordedResource[] = [];

export interface RunOptions {
    /** Outputs the stack's previous update recorded (what the engine's readStackOutputs returns). */
    readonly previousOutputs?: Record<string, unknown>;
    /** The program to run (another checkout's index.ts, for the offline preview); this project's by default. */
    readonly program?: string;
    /** The stack's name, as pulumi.getStack() returns it. */
    readonly stack?: string;
}

/** Loads the program fresh with `config` (keys without the project prefix) and runs it. */
export async function runProgram(
    config: Record<string, string>,
    options: RunOptions = {},
): Promise<{ resources: RecordedResource[]; outputs: Record<string, unknown> }> {
    registered.length = 0;
    await pulumi.runtime.setMocks(
        {
            newResource(args) {
                registered.push({ type: args.type, name: args.name, inputs: args.inputs });
                // What AWS would assign: an Elastic IP's public address (documentation range).
                const assigned = args.type === "aws:ec2/eip:Eip" ? { publicIp: "203.0.113.10" } : {};
                // What a host's deploy reports when its app echoes INSTANCE_ID: an id per host.
                const deployed = /^(blue|green)-host-\d+$/.test(args.name)
                    ? { stdout: `bluegreen-deploy {"instance":"${Buffer.from(args.name).toString("hex")}"}\n` }
                    : {};
                return { id: `${args.name}-id`, state: { ...args.inputs, ...assigned, ...deployed } };
            },
            call(args) {
                if (args.token === "pulumi:pulumi:readStackOutputs") {
                    return { name: args.inputs.name, outputs: options.previousOutputs ?? {} };
                }
                return AWS_CALLS[args.token]?.(args.inputs) ?? args.inputs;
            },
        },
        "bluegreen",
        options.stack ?? "unit",
        false, // an update, not a preview: every output is known
        "organization",
    );
    // The ssh target would log in to its nginx host to ask what it serves: no host here. Put back
    // afterwards: integration tests in the same mocha process pass their environment to pulumi.
    const observeBefore = process.env.BLUEGREEN_OBSERVE;
    process.env.BLUEGREEN_OBSERVE = "off";
    // Nothing listens on this internal port: the program observes no running nginx.
    const withDefaults = { internalPort: "65001", ...config };
    pulumi.runtime.setAllConfig(
        Object.fromEntries(Object.entries(withDefaults).map(([k, v]) => [`bluegreen:${k}`, v])),
        config.drainToken !== undefined ? ["bluegreen:drainToken"] : [],
    );
    for (const cached of Object.keys(require.cache)) {
        if (!cached.includes(`${path.sep}node_modules${path.sep}`)) delete require.cache[cached];
    }

    const logged: string[] = [];
    const realExit = process.exit;
    const realLogError = pulumi.log.error;
    pulumi.log.error = (message: string) => {
        logged.push(message);
        return Promise.resolve();
    };
    // What the program tells the operator (the plan): kept for tests, not printed.
    const realLogInfo = pulumi.log.info;
    info.length = 0;
    pulumi.log.info = (message: string) => {
        info.push(message);
        return Promise.resolve();
    };
    process.exit = ((code?: number) => {
        throw new ProgramRefused(logged, code ?? 0);
    }) as typeof process.exit;
    try {
        // A require, not an import: the program is loaded again for every run, after its mocks are set.
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const program = require(options.program ?? PROGRAM) as () => Promise<Record<string, unknown>>;
        const exported = await program();
        const outputs: Record<string, unknown> = {};
        for (const [name, value] of Object.entries(exported)) {
            outputs[name] = await resolved(value);
        }
        return { resources: [...registered], outputs };
    } finally {
        process.exit = realExit;
        pulumi.log.error = realLogError;
        pulumi.log.info = realLogInfo;
        if (observeBefore === undefined) delete process.env.BLUEGREEN_OBSERVE;
        else process.env.BLUEGREEN_OBSERVE = observeBefore;
    }
}

async function resolved(value: unknown): Promise<unknown> {
    if (pulumi.Output.isInstance(value)) {
        return new Promise((resolve) => (value as pulumi.Output<unknown>).apply((v) => resolve(v)));
    }
    return value;
}
