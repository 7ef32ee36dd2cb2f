// Module AvatarPipeline.
