namespace Accelerator.Benchmarks.Containerd;

/// <summary>The driver's command line (see Program.cs).</summary>
/// <param name="Image">The image the container runs, pulled by the timed PullImage.</param>
/// <param name="SandboxImage">The pod sandbox ("pause") image, pulled before the timing starts.</param>
/// <param name="PlainHttpRegistries">Registries (<c>host:port</c>) containerd reaches over plain HTTP.</param>
/// <param name="SnapshotterAddress">The socket of <c>accel snapshotter</c>, or <see langword="null"/> for containerd's overlayfs.</param>
/// <param name="ResultPath">Where the JSON result goes, or <see langword="null"/> for standard output.</param>
/// <param name="Command">The container's command and arguments.</param>
internal sealed record RunSettings(
    string Image, string SandboxImage, IReadOnlyList<string> PlainHttpRegistries, string? SnapshotterAddress, string? ResultPath, IReadOnlyList<string> Command)
{
    /// <summary>Parses <paramref name="args"/>.</summary>
    /// <exception cref="ArgumentException">An unknown or incomplete option, or a required one missing.</exception>
    public static RunSettings Parse(IReadOnlyList<string> args)
    {
        string? image = null, sandbox = null, snapshotter = null, result = null;
        var registries = new List<string>();
        int i = 0;
        for (; i < args.Count && args[i] != "--"; i += 2)
        {
            if (i + 1 >= args.Count)
            {
                throw new ArgumentException($"{args[i]} needs a value.");
            }

            string value = args[i + 1];
            switch (args[i])
            {
                case "--image":
                    image = value;
                    break;
                case "--sandbox-image":
                    sandbox = value;
                    break;
                case "--plain-http":
                    registries.Add(value);
                    break;
                case "--snapshotter-address":
                    snapshotter = value;
                    break;
                case "--result":
                    result = value;
                    break;
                default:
                    throw new ArgumentException($"Unknown option {args[i]}.");
            }
        }

        string[] command = i < args.Count ? [.. args.Skip(i + 1)] : [];
        if (image is null || sandbox is null || command.Length == 0)
        {
            throw new ArgumentException("usage: Accelerator.Benchmarks.Containerd --image REF --sandbox-image REF [--plain-http HOST:PORT]... [--snapshotter-address SOCK] [--result FILE] -- COMMAND [ARG...]");
        }

        return new RunSettings(image, sandbox, registries, snapshotter, result, command);
    }
}
