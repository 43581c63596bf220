using Microsoft.Extensions.Logging;

namespace Accelerator.Fuse.Tests.TestHost;

/// <summary>Writes warnings and errors to stderr as <c>LEVEL: message</c>, one line each, for tests reading a child's output.</summary>
internal sealed class StderrLoggerProvider : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => new StderrLogger();

    public void Dispose()
    {
    }

    private sealed class StderrLogger : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                Console.Error.WriteLine($"{logLevel}: {formatter(state, exception)}");
            }
        }
    }
}
