using BenchmarkDotNet.Attributes;

namespace Accelerator.Benchmarks;

/// <summary><see cref="ImageReference.Parse"/> on the three shapes a pull starts from: a short docker name, host:port with a digest, a layout.</summary>
[MemoryDiagnoser]
[MinColumn]
public class ImageReferenceBenchmarks
{
    [Benchmark]
    public ImageReference ShortName() => ImageReference.Parse("nginx");

    [Benchmark]
    public ImageReference HostPortDigest() => ImageReference.Parse(
        "registry.example.com:5000/team/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");

    [Benchmark]
    public ImageReference Layout() => ImageReference.Parse("oci:/var/lib/accel/layouts/app:v1.2.3");
}
