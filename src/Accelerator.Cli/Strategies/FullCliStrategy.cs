using System.CommandLine;
using Accelerator.Cli.Commands;

namespace Accelerator.Cli.Strategies;

/// <summary>The full pull in <c>accel</c>: the baseline, and the last fallback of <c>auto</c>.</summary>
internal sealed class FullCliStrategy : CliStrategy
{
    private readonly Option<long?> _maxImageSize = PullCommand.MaxImageSizeOption();

    /// <inheritdoc />
    public override Strategy Strategy => Strategy.Full;

    /// <inheritdoc />
    public override string Description => "full";

    /// <inheritdoc />
    public override IReadOnlyList<Option> MountOptions => [_maxImageSize];

    /// <inheritdoc />
    public override void AddToMount(ImageAcceleratorBuilder builder, MountContext mount)
    {
        // A full pull (chosen, or the fallback of auto) is a real mount too: background readiness, 'accel umount' and
        // the statistics at unmount work the same whichever strategy served.
        long? maxImageBytes = mount.Result.GetValue(_maxImageSize);
        builder.UseFullPull(o =>
        {
            o.MountUnpackedTree = true;
            o.MaxUncompressedImageBytes = maxImageBytes;
        });
    }
}
