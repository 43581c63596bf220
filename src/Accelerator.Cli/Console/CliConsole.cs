using Spectre.Console;

namespace Accelerator.Cli.Console;

/// <summary>
/// Where the tool writes: results to stdout, one-line errors to stderr, and progress bars only when stderr is a
/// terminal (so redirected output stays clean).
/// </summary>
internal sealed class CliConsole
{
    private readonly TextWriter _out;
    private readonly TextWriter _error;

    public CliConsole(TextWriter? output = null, TextWriter? error = null, bool? interactive = null)
    {
        _out = output ?? System.Console.Out;
        _error = error ?? System.Console.Error;
        Interactive = interactive ?? (!System.Console.IsErrorRedirected && !System.Console.IsOutputRedirected
            && Environment.GetEnvironmentVariable("TERM") is not (null or "dumb"));
    }

    /// <summary>Whether progress bars are shown.</summary>
    public bool Interactive { get; }

    public TextWriter Out => _out;

    public TextWriter ErrorOut => _error;

    public void WriteLine(string text) => _out.WriteLine(text);

    public void Error(string message) => _error.WriteLine($"accel: error: {message}");

    public void Warn(string message) => _error.WriteLine($"accel: warning: {message}");

    /// <summary>Runs <paramref name="work"/> with a progress display when interactive, else silently.</summary>
    public async Task<T> WithProgressAsync<T>(Func<ProgressSink, Task<T>> work)
    {
        if (!Interactive)
        {
            return await work(ProgressSink.None).ConfigureAwait(false);
        }

        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(_error) });
        T result = default!;
        await console.Progress()
            .AutoClear(true)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new DownloadedColumn(), new TransferSpeedColumn())
            .StartAsync(async context => result = await work(new ProgressSink(context)).ConfigureAwait(false))
            .ConfigureAwait(false);
        return result;
    }
}

/// <summary>Progress tasks keyed by item; a no-op when not interactive.</summary>
internal sealed class ProgressSink
{
    private readonly ProgressContext? _context;
    private readonly Dictionary<string, ProgressTask> _tasks = new(StringComparer.Ordinal);

    public ProgressSink(ProgressContext? context) => _context = context;

    public static ProgressSink None { get; } = new(null);

    /// <summary>Whether reports are shown (false when output is redirected).</summary>
    public bool IsActive => _context is not null;

    /// <summary>Reports <paramref name="done"/> of <paramref name="total"/> for <paramref name="item"/>.</summary>
    public void Report(string item, string description, long done, long total)
    {
        if (_context is null)
        {
            return;
        }

        lock (_tasks)
        {
            if (!_tasks.TryGetValue(item, out var task))
            {
                task = _context.AddTask(Markup.Escape(description), maxValue: Math.Max(total, 1));
                _tasks[item] = task;
            }

            if (total > 0)
            {
                task.MaxValue = total;
            }

            task.Value = Math.Min(done, task.MaxValue);
        }
    }
}
