using System.Diagnostics;

namespace Accelerator.Block.Tests.Support;

/// <summary>Runs a command-line client (qemu-img, nbdcopy, nbdinfo, nbdsh) and collects its exit code and output.</summary>
internal static class Tool
{
    // nbdsh runs `python3 -mnbd`; the system python has the nbd module (python3-libnbd), a pyenv one may not.
    private const string SystemPath = "/usr/sbin:/usr/bin:/sbin:/bin";

    public static async Task<(int ExitCode, string Output, string Error)> RunAsync(string fileName, params string[] arguments)
    {
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        start.Environment["PATH"] = SystemPath;
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Cannot start {fileName}.");
        process.StandardInput.Close();
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        return (process.ExitCode, await output, await error);
    }

    /// <summary>Runs it and returns stdout; a non-zero exit fails the test with the tool's stderr.</summary>
    public static async Task<string> CheckAsync(string fileName, params string[] arguments)
    {
        var (code, output, error) = await RunAsync(fileName, arguments);
        Assert.True(code == 0, $"{fileName} {string.Join(' ', arguments)} exited {code}: {error}");
        return output;
    }
}
