using System.Text;

namespace Accelerator.Oci.Tests.Model;

/// <summary>Manifests and indexes shaped like the ones registries serve.</summary>
internal static class SampleDocuments
{
    public const string D1 = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    public const string D2 = "sha256:2222222222222222222222222222222222222222222222222222222222222222";
    public const string D3 = "sha256:3333333333333333333333333333333333333333333333333333333333333333";

    public const string OciManifest = $$"""
        {
          "schemaVersion": 2,
          "mediaType": "application/vnd.oci.image.manifest.v1+json",
          "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": "{{D1}}", "size": 1469 },
          "layers": [
            { "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": "{{D2}}", "size": 3623807 },
            { "mediaType": "application/vnd.oci.image.layer.v1.tar+zstd", "digest": "{{D3}}", "size": 42,
              "annotations": { "org.opencontainers.image.title": "x" } }
          ],
          "annotations": { "org.opencontainers.image.created": "2024-01-01T00:00:00Z" }
        }
        """;

    public const string OciManifestWithoutMediaType = $$"""
        {"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{{D1}}","size":2},"layers":[]}
        """;

    public const string DockerManifest = $$"""
        {
           "schemaVersion": 2,
           "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
           "config": { "mediaType": "application/vnd.docker.container.image.v1+json", "size": 7023, "digest": "{{D1}}" },
           "layers": [ { "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 32654, "digest": "{{D2}}" } ]
        }
        """;

    public const string OciIndex = $$"""
        {
          "schemaVersion": 2,
          "mediaType": "application/vnd.oci.image.index.v1+json",
          "manifests": [
            { "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "{{D1}}", "size": 7143,
              "platform": { "architecture": "amd64", "os": "linux" } },
            { "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "{{D2}}", "size": 7682,
              "platform": { "architecture": "arm64", "os": "linux", "variant": "v8" } },
            { "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "{{D3}}", "size": 566,
              "platform": { "architecture": "unknown", "os": "unknown" },
              "annotations": { "vnd.docker.reference.type": "attestation-manifest" } }
          ]
        }
        """;

    public const string DockerManifestList = $$"""
        {
          "schemaVersion": 2,
          "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
          "manifests": [
            { "mediaType": "application/vnd.docker.distribution.manifest.v2+json", "size": 7143, "digest": "{{D1}}",
              "platform": { "architecture": "ppc64le", "os": "linux" } },
            { "mediaType": "application/vnd.docker.distribution.manifest.v2+json", "size": 7682, "digest": "{{D2}}",
              "platform": { "architecture": "amd64", "os": "windows", "os.version": "10.0.17763.1040", "os.features": [ "win32k" ] } }
          ]
        }
        """;

    public const string IndexWithoutMediaType = $$"""
        {"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{{D1}}","size":1}]}
        """;

    public const string Schema1 = """
        {"schemaVersion":1,"name":"library/hello","tag":"latest","architecture":"amd64","fsLayers":[],"history":[]}
        """;

    public static byte[] Bytes(string json) => Encoding.UTF8.GetBytes(json);

    public static IEnumerable<string> All => [OciManifest, OciManifestWithoutMediaType, DockerManifest, OciIndex, DockerManifestList, IndexWithoutMediaType, Schema1];
}
