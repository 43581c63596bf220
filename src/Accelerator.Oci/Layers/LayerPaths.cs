namespace Accelerator.Oci.Layers;

/// <summary>How layer entry names map to paths inside the image root; shared by the applier and converters.</summary>
public static class LayerPaths
{
    /// <summary>
    /// Splits an archive path into components relative to the root: a leading "/" is dropped, "." and empty
    /// components vanish, and ".." removes the previous component but never climbs above the root.
    /// </summary>
    public static List<string> Split(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var components = new List<string>();
        foreach (string part in path.Split('/'))
        {
            switch (part)
            {
                case "" or ".":
                    break;
                case "..":
                    if (components.Count > 0)
                    {
                        components.RemoveAt(components.Count - 1);
                    }

                    break;
                default:
                    components.Add(part);
                    break;
            }
        }

        return components;
    }
}
