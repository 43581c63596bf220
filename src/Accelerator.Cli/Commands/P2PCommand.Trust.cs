using System.CommandLine;
using Accelerator.P2P.Scheduling;

namespace Accelerator.Cli.Commands;

internal static partial class P2PCommand
{
    /// <summary>
    /// The scheduler's trust and limit flags: <c>--trust-registry</c>, <c>--operator-token-file</c>, <c>--max-blob-size</c>,
    /// <c>--max-tasks</c>, <c>--max-peers</c>, <c>--max-registrations-per-minute</c>.
    /// </summary>
    private sealed class SchedulerLimitOptions
    {
        private readonly Option<string[]> _trust = new("--trust-registry") { Description = "A registry (host[:port]) the scheduler vouches for: it checks peers' access there and issues task tokens for its blobs (repeatable or comma-separated). Registrations and preheats naming any other registry are refused; with none, every registration is.", HelpName = "REGISTRY", Arity = ArgumentArity.ZeroOrMore };
        private readonly Option<string?> _operatorToken = new("--operator-token-file") { Description = "A file (mode 0600 or stricter) holding the operator token: preheat requests and seed peers must send it as 'Authorization: Bearer TOKEN'. Without it, preheat is off and no peer may be a seed.", HelpName = "FILE" };
        private readonly Option<long?> _maxBlobSize = Flags.Size("--max-blob-size", "The largest blob shared through P2P (512, 64K, 100M, 10G, 1T; binary); larger ones are read from the registry. Default: 64G.");
        private readonly Option<int> _maxTasks = new("--max-tasks") { Description = "The most tasks (blobs) held at once.", DefaultValueFactory = _ => 10_000, HelpName = "N" };
        private readonly Option<int> _maxPeers = new("--max-peers") { Description = "The most peers known at once.", DefaultValueFactory = _ => 10_000, HelpName = "N" };
        private readonly Option<int> _maxRegistrations = new("--max-registrations-per-minute") { Description = "The most task registrations one peer may make per minute.", DefaultValueFactory = _ => 600, HelpName = "N" };

        public void AddTo(Command command)
        {
            command.Options.Add(_trust);
            command.Options.Add(_operatorToken);
            command.Options.Add(_maxBlobSize);
            command.Options.Add(_maxTasks);
            command.Options.Add(_maxPeers);
            command.Options.Add(_maxRegistrations);
        }

        public async Task ApplyAsync(ParseResult result, P2PSchedulerServerOptions options, CancellationToken cancellationToken)
        {
            foreach (string registry in SplitList(result.GetValue(_trust)))
            {
                options.TrustedRegistries.Add(registry);
            }

            if (result.GetValue(_operatorToken) is { } file)
            {
                options.OperatorToken = await ReadOperatorTokenAsync(file, cancellationToken).ConfigureAwait(false);
            }

            options.Scheduler.MaxBlobBytes = result.GetValue(_maxBlobSize) ?? 64L << 30;
            options.Scheduler.MaxTasks = Positive("--max-tasks", result.GetValue(_maxTasks));
            options.Scheduler.MaxPeers = Positive("--max-peers", result.GetValue(_maxPeers));
            options.Scheduler.MaxRegistrationsPerPeerPerMinute = Positive("--max-registrations-per-minute", result.GetValue(_maxRegistrations));
        }

        private static int Positive(string option, int value)
            => value > 0 ? value : throw new FormatException($"{option}: must be a positive number, not {value}.");
    }

    /// <summary>Entries of a repeatable, comma-separated option.</summary>
    private static IEnumerable<string> SplitList(IEnumerable<string>? values)
        => (values ?? []).SelectMany(v => v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    /// <summary>
    /// Reads an operator token file: one line of at least 16 printable characters, and the file not readable or writable
    /// by group or others (a token anyone on the host can read is no credential).
    /// </summary>
    internal static async Task<string> ReadOperatorTokenAsync(string path, CancellationToken cancellationToken)
    {
        byte[] bytes = await SecretFile.ReadAsync("--operator-token-file", path, cancellationToken).ConfigureAwait(false);
        string token = System.Text.Encoding.UTF8.GetString(bytes).Trim();
        if (token.Length < 16 || token.Any(c => c <= ' ' || c > '~'))
        {
            throw new FormatException($"--operator-token-file: '{path}' must hold one token of at least 16 printable characters without spaces.");
        }

        return token;
    }
}
