using System.Diagnostics;
using System.Text;

namespace Accelerator.Testing.Images;

/// <summary>A command-line tool (umoci, skopeo, tar…) that exited with a failure.</summary>
public sealed class ExternalToolException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ExternalToolException(string message, int exitCode, string standardError)
        : base(message)
    {
        ExitCode = exitCode;
        StandardError = standardError;
    }

    /// <summary>The tool's exit code.</summary>
    public int ExitCode { get; }

    /// <summary>What the tool wrote to standard error.</summary>
    public string StandardError { get; }
}

/// <summary>Runs command-line tools with arguments passed as a list (no shell), collecting their output.</summary>
public static class ExternalTool
{
    /// <summary>Runs <paramref name="fileName"/> and returns its stdout; a non-zero exit throws <see cref="ExternalToolException"/>.</summary>
    public static async Task<string> RunAsync(string fileName, IEnumerable<string> arguments, string? workingDirectory = null, CancellationToken cancellationToken = default)
    {
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = new Process { StartInfo = start };
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new ExternalToolException($"Cannot start '{fileName}': {ex.Message} (is it installed? see scripts/install-deps.sh).", -1, string.Empty);
        }

        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        try
        {
            await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        string output = await stdout.ConfigureAwait(false);
        string error = await stderr.ConfigureAwait(false);
        if (process.ExitCode != 0)
        {
            var command = new StringBuilder(fileName);
            foreach (string argument in start.ArgumentList)
            {
                command.Append(' ').Append(argument.Contains(' ') ? $"'{argument}'" : argument);
            }

            throw new ExternalToolException($"'{command}' exited with code {process.ExitCode}: {error.Trim()}", process.ExitCode, error);
        }

        return output;
    }
}
