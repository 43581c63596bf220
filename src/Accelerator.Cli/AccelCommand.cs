using System.CommandLine;
using Accelerator.Cli.Commands;
using Accelerator.Cli.Console;

namespace Accelerator.Cli;

/// <summary>The <c>accel</c> root command: parses the command line and runs one command.</summary>
internal static class AccelCommand
{
    public static async Task<int> RunAsync(string[] args, CliConsole? console = null)
    {
        console ??= new CliConsole();
        var root = Create(console);
        var parse = root.Parse(args);
        return await parse.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false }).ConfigureAwait(false);
    }

    public static RootCommand Create(CliConsole console)
    {
        var common = new CommonOptions();
        var root = new RootCommand("accel: make containers start fast — pull, convert, mount and share OCI images.");
        common.AddTo(root);
        root.Subcommands.Add(PullCommand.Create(common, console));
        root.Subcommands.Add(InspectCommand.Create(common, console));
        root.Subcommands.Add(CopyCommand.Create(common, console));
        root.Subcommands.Add(DemoCommand.Create(common, console));
        root.Subcommands.Add(ReplicateCommand.Create(common, console));
        return root;
    }
}
