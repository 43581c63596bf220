using System.CommandLine;
using System.CommandLine.Invocation;
using System.CommandLine.Parsing;
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
        if (parse.Action is ParseErrorAction)
        {
            // A usage mistake is one error line like any other failure, pointing at the command's help.
            string problems = string.Join(" ", parse.Errors.Select(e => e.Message).Distinct(StringComparer.Ordinal));
            console.Error($"{problems} See '{CommandPath(parse.CommandResult)} --help'.");
            return 1;
        }

        var invocation = new InvocationConfiguration { EnableDefaultExceptionHandler = false, Output = console.Out, Error = console.ErrorOut };
        return await parse.InvokeAsync(invocation).ConfigureAwait(false);
    }

    private static string CommandPath(CommandResult command)
    {
        var names = new List<string>();
        for (SymbolResult? result = command; result is not null; result = result.Parent)
        {
            if (result is CommandResult { Command: var c })
            {
                names.Add(c is RootCommand ? "accel" : c.Name);
            }
        }

        names.Reverse();
        return string.Join(' ', names);
    }

    public static RootCommand Create(CliConsole console)
    {
        var common = new CommonOptions();
        var root = new RootCommand("accel: make containers start fast — pull, convert, mount and share OCI images.");
        common.AddTo(root);
        root.Subcommands.Add(PullCommand.Create(common, console));
        root.Subcommands.Add(InspectCommand.Create(common, console));
        root.Subcommands.Add(CopyCommand.Create(common, console));
        root.Subcommands.Add(ConvertCommand.Create(common, console));
        root.Subcommands.Add(IndexCommand.Create(common, console));
        root.Subcommands.Add(DemoCommand.Create(common, console));
        root.Subcommands.Add(ReplicateCommand.Create(common, console));
        root.Subcommands.Add(MountCommand.Create(common, console));
        root.Subcommands.Add(UmountCommand.Create(console));
        root.Subcommands.Add(P2PCommand.Create(common, console));
        root.Subcommands.Add(BlockCommand.Create(common, console));
        root.Subcommands.Add(CacheCommand.Create(common, console));
        root.Subcommands.Add(SnapshotterCommand.Create(common, console));
        root.Subcommands.Add(ContainerdCommand.Create(common, console));
        root.Subcommands.Add(FuseHolderCommand.Create(console));
        return root;
    }
}
